"""Provenance: everything about the machine and software that a number depends on."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import multiprocessing as mp
import os
import platform
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import psutil

from coresweep.measure import cache
from coresweep.measure.cores import affinity, cgroup_cpu_max, usable_cores

PACKAGES = (
    "coresweep",
    "numpy",
    "numba",
    "llvmlite",
    "scipy",
    "pandas",
    "pyarrow",
    "dask",
    "distributed",
    "dask-jobqueue",
    "psutil",
    "threadpoolctl",
    "matplotlib",
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "jsonschema",
    "pyyaml",
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _blas() -> list[dict[str, Any]]:
    import numpy  # noqa: F401  (loads BLAS so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "filepath")
    return [{k: i.get(k) for k in keep} for i in threadpool_info()]


def _numba() -> dict[str, Any]:
    import numba

    layer = "not initialised"
    with contextlib.suppress(Exception):
        layer = numba.threading_layer()
    return {
        "threading_layer": layer,
        "threading_layer_config": numba.config.THREADING_LAYER,
        "num_threads": numba.config.NUMBA_NUM_THREADS,
    }


def _git(repo: Path) -> dict[str, Any]:
    def run(*args: str) -> str | None:
        try:
            r = subprocess.run(
                ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status) if status is not None else None}


def _governor() -> str | None:
    return _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


def _turbo() -> str | None:
    no_turbo = _read("/sys/devices/system/cpu/intel_pstate/no_turbo")
    if no_turbo is not None:
        return "off" if no_turbo == "1" else "on"
    boost = _read("/sys/devices/system/cpu/cpufreq/boost")
    if boost is not None:
        return "on" if boost == "1" else "off"
    return None


def interpreter_facts() -> dict[str, Any]:
    """The interpreter that ran this code, and whether its GIL is on now.

    Read it after every import of the job (when a point's result is written): on a
    free-threaded build an extension module that does not declare itself safe switches the
    GIL back on when it is imported. `python_gil` is the PYTHON_GIL variable (None: unset).
    """
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": bool(is_gil_enabled()) if is_gil_enabled is not None else True,
        "python_gil": os.environ.get("PYTHON_GIL"),
    }


def gil_reenabled(facts: dict[str, Any]) -> bool:
    """A free-threaded build whose GIL was on (an extension switched it on, or PYTHON_GIL=1)."""
    return bool(facts.get("free_threaded")) and bool(facts.get("gil_enabled"))


def interpreter_label(facts: dict[str, Any]) -> str:
    """A short stable name of an interpreter: "cpython-3.11", "cpython-3.14t" (free-threaded,
    GIL off), "cpython-3.14t+gil" (a free-threaded build whose GIL was on: not counted as
    free-threaded)."""
    major_minor = ".".join(str(facts.get("version", "?")).split(".")[:2])
    label = f"{str(facts.get('implementation', '?')).lower()}-{major_minor}"
    if facts.get("free_threaded"):
        label += "t+gil" if gil_reenabled(facts) else "t"
    return label


def dynamic() -> dict[str, Any]:
    """What changes from minute to minute: load and free memory (kept out of the hash)."""
    return {
        "load_average": list(os.getloadavg()),
        "memory_available_bytes": psutil.virtual_memory().available,
    }


def collect(repo: Path | None = None) -> dict[str, Any]:
    """Static provenance of this process. Unreadable sources are recorded as None (unknown)."""
    repo = repo or Path.cwd()
    vm = psutil.virtual_memory()
    env_keys = sorted(
        k for k in os.environ if k.endswith("_NUM_THREADS") or k.startswith("OPENBLAS_")
    )
    return {
        "machine": {
            "hostname": socket.gethostname(),
            "cpu_model": cpu_model(),
            "logical_cores": psutil.cpu_count(logical=True),
            "physical_cores": psutil.cpu_count(logical=False),
            "smt": _read("/sys/devices/system/cpu/smt/active"),
            "affinity": affinity(),
            "cgroup_cpu_max": cgroup_cpu_max(),
            "cgroup_cpuset": _read("/sys/fs/cgroup/cpuset.cpus.effective"),
            "usable_cores": usable_cores(),
            "memory_total_bytes": vm.total,
            # the LLC domains of the usable CPUs (sysfs): what the triad's arrays are sized by
            "last_level_cache": cache.here().to_dict(),
            "governor": _governor(),
            "turbo": _turbo(),
        },
        "os": {
            "system": platform.system(),
            "kernel": platform.release(),
            "distribution": _read("/etc/debian_version") or platform.version(),
        },
        "python": {
            "version": sys.version,
            "implementation": platform.python_implementation(),
            "build": list(platform.python_build()),
            "executable": sys.executable,
            "switch_interval": sys.getswitchinterval(),
        },
        # at collection time; each raw record also holds them read after its point ran
        "interpreter": interpreter_facts(),
        "packages": _versions(),
        "blas": _blas(),
        "numba": _numba(),
        "env": {k: os.environ[k] for k in env_keys},
        "multiprocessing_start_method": mp.get_start_method(allow_none=True) or "default",
        "git": _git(repo),
    }
