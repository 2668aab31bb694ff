"""Helpers for tests that run the Snakemake workflow in a temporary directory."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "tests" / "configs"


def copy_workflow(dest: Path) -> Path:
    """A runnable copy of the workflow: Snakefile, environment.yml, workflow/, config/, profiles/."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("Snakefile", "environment.yml"):  # rules name environment.yml in `conda:`
        shutil.copy(ROOT / f, dest / f)
    for d in ("workflow", "config", "profiles"):
        shutil.copytree(ROOT / d, dest / d, symlinks=False)
    return dest


def write_config(dest: Path, source: Path, keep: tuple[str, ...] = ("scaling",)) -> Path:
    """source config with every registered experiment not in keep switched off."""
    from coresweep.experiments import EXPERIMENTS

    cfg = yaml.safe_load(source.read_text())
    for name in EXPERIMENTS:
        if name not in keep:
            cfg.setdefault("experiments", {}).setdefault(name, {})["enabled"] = False
    path = dest / "test-config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake(
    cwd: Path, config: Path, *args: str, timeout: int = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["snakemake", "--configfile", str(config), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pyenv_python(minor: str) -> str | None:
    """pyenv's python 3.<minor>.* on this machine (the newest), if it has one."""
    root = Path.home() / ".pyenv"
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        root = Path(out.stdout.strip() or root)
    found = sorted(root.glob(f"versions/3.{minor}.*/bin/python"))
    return str(found[-1]) if found else None
