"""Packaging: pip and conda dependency lists stay in step; the workflow schema is the package's."""

from __future__ import annotations

import re
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
