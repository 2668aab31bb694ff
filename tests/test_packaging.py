"""Packaging: pip and conda dependency lists stay in step; the workflow schema is the package's."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_every_pyproject_dependency():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = {_name(d) for d in meta["dependencies"]}
    pip_deps |= {_name(d) for d in meta["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_deps = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    conda_deps.discard("python")
    conda_deps.discard("pip")
    assert pip_deps == conda_deps


def test_workflow_schema_is_the_package_schema():
    wf = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    pkg = ROOT / "src" / "coresweep" / "schemas" / "config.schema.yaml"
    assert wf.read_text() == pkg.read_text()


#: what a clean clone must hold at its top level (results/ holds only its README in git)
TOP_LEVEL = ("Snakefile", "workflow", "src", "config", "results", "tests", "environment.yml")


def test_a_clean_clone_has_the_required_top_level():
    """git's own list, not the working tree: a folder that only a run creates (results/ once
    lost its README, so clean clones had no results/) fails here."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no clone to check")
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    tracked = {f.split("/", 1)[0] for f in out}
    assert [t for t in TOP_LEVEL if t not in tracked] == []
    assert "results/README.md" in out


def test_measurement_jobs_do_not_import_pandas():
    """What `coresweep measure` loads for any experiment: no pandas (tables are built later)."""
    code = (
        "import sys\n"
        "from coresweep.measure import runner\n"
        "from coresweep.experiments import NAMES, get_experiment\n"
        "for name in NAMES:\n"
        "    get_experiment(name)\n"
        "print(len(NAMES), 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["11", "False"]


#: import name -> distribution name, where the two differ
DISTRIBUTION_OF = {"yaml": "pyyaml", "dask_jobqueue": "dask-jobqueue", "sklearn": "scikit-learn"}
#: the project's own top-level modules (the package, test helpers, examples)
#: the project's own modules: the package, the examples, and the tests' helper modules
OWN = {"coresweep", "examples"} | {p.stem for p in (ROOT / "tests").rglob("*.py")}
SMK_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.M)


def _top_level_imports(path: Path) -> set[str]:
    """Top-level module names a file imports (every import, also inside functions)."""
    import ast

    text = path.read_text()
    if path.suffix != ".py":  # Snakefile / .smk: Python statements among Snakemake's
        return set(SMK_IMPORT.findall(text))
    names = set()
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _third_party_imports() -> dict[str, list[str]]:
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    files += [*(ROOT / "workflow").rglob("*.smk"), ROOT / "workflow" / "Snakefile"]
    found: dict[str, list[str]] = {}
    for f in files:
        for name in _top_level_imports(f):
            if name not in sys.stdlib_module_names and name not in OWN and name != "__future__":
                found.setdefault(name, []).append(str(f.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared():
    """A package that src/, tests/ or workflow/ imports but no dependency list names works
    only where someone installed it by hand: a fresh machine fails."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(d) for d in meta["dependencies"]}
    declared |= {_name(d) for d in meta["optional-dependencies"]["test"]}
    imports = _third_party_imports()
    assert {"numpy", "snakemake", "pytest"} <= imports.keys()  # the walk sees real imports
    missing = {
        name: files[:3]
        for name, files in imports.items()
        if DISTRIBUTION_OF.get(name, name).replace("_", "-").lower() not in declared
    }
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_workflow_catalog_file_has_the_standardized_usage_fields():
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert usage["mandatory-flags"]["desc"].strip() and usage["mandatory-flags"]["flags"]
    deploy = usage["software-stack-deployment"]
    assert deploy["conda"] is True and set(deploy) == {"conda", "apptainer", "apptainer+conda"}
    assert usage["report"] is True
    # the catalog's other requirements: the entry point and the config docs
    assert (ROOT / "workflow" / "Snakefile").exists() and (ROOT / "config" / "README.md").exists()


def test_snakemake_lint_and_snakefmt_are_clean(tmp_path):
    """`snakemake --lint` exits 1 on any finding; snakefmt --check on a file it would change."""
    lint = subprocess.run(
        ["snakemake", "--lint", "--cores", "1"], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, (lint.stdout + lint.stderr)[-2000:]
    fmt = subprocess.run(
        ["snakefmt", "--check", "Snakefile", "workflow"], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stderr[-2000:]
