"""Packaging: pip and conda dependency lists stay in step; the workflow schema is the package's."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

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
