"""The interpreters a run measures: the config's requests, their environments, uv's commands.

`interpreters:` lists requests: `current` (the Python coresweep runs under, which needs no
environment and adds no suffix to point and job ids, so a default run keeps its names), a
version (`3.13`; `3.14t` a free-threaded build; `3.14+gil` the free-threaded build run with
`PYTHON_GIL=1`), or a path to a python executable. Every other interpreter gets a virtual
environment under `.venvs/<label>/`, made once by uv and reused, with coresweep installed
editable from its checkout: the measuring process of every interpreter then runs the same
code as the planner that wrote its points' specs (a copy would keep measuring with the code
it was built from after the checkout changes, since the environment is reused).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from coresweep.config import ConfigError
from coresweep.records import Point

CURRENT = "current"
#: the oldest Python coresweep runs on (pyproject.toml's requires-python)
MIN_VERSION = (3, 11)
#: free-threaded builds exist from this version on (PEP 703)
MIN_FREE_THREADED = (3, 13)
#: where the environments live, relative to the working directory (git-ignored)
ENV_ROOT = Path(".venvs")
MARKER = "coresweep-env.json"
#: seconds to create one environment: `uv venv` + `uv pip install -e <checkout>` into /tmp for
#: pyenv's 3.13.0 with an empty uv cache (87 wheels downloaded from PyPI) took 0.2 + 4.7 s on
#: the 2-core Intel Xeon VM (Debian 12) of 2026-12-06, measured once; the rule's whole job
#: (uv, then the probe of the new interpreter) took 4.4 s there in a test run, cold too.
#: Rounded up for Snakemake's start of the job.
ENV_CREATE_S = 6.0
#: what `python -c` prints about itself; Python 2 must run it too (to be refused by version)
PROBE = (
    "import json, platform, sys, sysconfig\n"
    "gil = getattr(sys, '_is_gil_enabled', None)\n"
    "print(json.dumps({'version': list(sys.version_info[:3]),"
    " 'implementation': platform.python_implementation(),"
    " 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),"
    " 'gil_enabled': gil() if gil else True, 'executable': sys.executable}))"
)
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(t)?(\+gil)?")
_FORMS = "'current', a version such as 3.13, 3.14t or 3.14+gil, or a path to a python executable"


@dataclass(frozen=True)
class Interpreter:
    """One interpreter request, parsed: what to create and how its measurement jobs run."""

    request: str  # as written in the config
    version: tuple[int, ...] = ()  # (3, 13) from a version request; the probed one for a path
    free_threaded: bool = False
    force_gil: bool = False  # "+gil": a free-threaded build run with PYTHON_GIL=1
    path: str | None = None  # the executable of a path request
    key: str = field(default="interpreters", compare=False)  # the config key, for messages

    @property
    def current(self) -> bool:
        return self.request == CURRENT

    @property
    def label(self) -> str:
        """Names the interpreter in ids, tables and folders: 3.13, 3.14t, 3.14t+gil."""
        if self.current:
            return CURRENT
        text = ".".join(map(str, self.version)) + ("t" if self.free_threaded else "")
        return text + ("+gil" if self.force_gil else "")

    @property
    def suffix(self) -> str:
        """Appended to point and job ids: none for the current interpreter."""
        return "" if self.current else f"__py{self.label}"

    @property
    def env_dir(self) -> Path:
        return ENV_ROOT / self.label

    @property
    def marker(self) -> Path:
        """The environment-creation rule's output: the new interpreter's probe, as JSON."""
        return self.env_dir / MARKER

    @property
    def uv_request(self) -> str:
        """What `uv venv --python` gets: the path, or the version with uv's `t` suffix."""
        if self.path is not None:
            return self.path
        return ".".join(map(str, self.version)) + ("t" if self.free_threaded else "")

    @property
    def environment(self) -> dict[str, str]:
        """Variables set for the interpreter's measurement jobs."""
        return {"PYTHON_GIL": "1"} if self.force_gil else {}

    def measure_command(self) -> str:
        """The command that runs `coresweep ...` in this interpreter (a shell prefix).

        The environment's python with `-m`, not its `bin/coresweep` script: uv writes the
        script's shebang as the absolute path the folder had when it was made, which a
        moved checkout or a workflow that reaches `.venvs/` through a symlink no longer has.
        """
        if self.current:
            return "coresweep"
        env = "".join(f"{k}={v} " for k, v in self.environment.items())
        return f"{'env ' + env if env else ''}{self.env_dir / 'bin' / 'python'} -m coresweep.cli"

    def uv_commands(self, project: Path) -> list[list[str]]:
        """Create the environment, then install coresweep (editable) and its dependencies."""
        python = str(self.env_dir / "bin" / "python")
        return [
            ["uv", "venv", "--clear", "--python", self.uv_request, str(self.env_dir)],
            ["uv", "pip", "install", "--python", python, "-e", str(project)],
        ]

    def apply(self, point: Point) -> Point:
        """The point as measured by this interpreter: own id, own job, its label in params."""
        if self.current:
            return point
        return replace(
            point,
            id=point.id + self.suffix,
            job=point.job_id + self.suffix,
            params={**point.params, "interpreter": self.label},
        )


def probe(executable: str, timeout: float = 60) -> dict[str, Any]:
    """Version, implementation and build of a python executable (runs it once)."""
    out = subprocess.run(
        [executable, "-c", PROBE], capture_output=True, text=True, timeout=timeout, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _too_old(version: tuple[int, ...]) -> bool:
    return tuple(version[:2]) < MIN_VERSION


def _parse_path(request: str, key: str) -> Interpreter:
    path = Path(request).expanduser()
    if not path.is_file():
        raise ConfigError(f"config key {key}: {request!r} does not exist (or is not a file)")
    try:
        info = probe(str(path))
        version = tuple(int(v) for v in info["version"])
    except (
        OSError,
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        subprocess.SubprocessError,
    ) as exc:
        raise ConfigError(
            f"config key {key}: {request!r} is not a python executable (running it failed: {exc!r})"
        ) from None
    if _too_old(version):
        raise ConfigError(
            f"config key {key}: {request!r} is Python {'.'.join(map(str, version))}; "
            f"coresweep needs {'.'.join(map(str, MIN_VERSION))} or newer"
        )
    return Interpreter(request, version, bool(info["free_threaded"]), path=str(path), key=key)


def parse(request: Any, key: str = "interpreters") -> Interpreter:
    """One request of the config as an Interpreter; ConfigError naming key when it is bad."""
    if not isinstance(request, str) or not request.strip():
        raise ConfigError(f"config key {key}: {request!r} is not {_FORMS}")
    request = request.strip()
    if request == CURRENT:
        return Interpreter(CURRENT, key=key)
    if "/" in request or request.startswith(("~", ".")):
        return _parse_path(request, key)
    m = _VERSION.fullmatch(request)
    if not m:
        raise ConfigError(f"config key {key}: {request!r} is not {_FORMS}")
    major, minor, patch, t, gil = m.groups()
    version = (int(major), int(minor)) + ((int(patch),) if patch else ())
    if _too_old(version):
        raise ConfigError(
            f"config key {key}: Python {request} is older than "
            f"{'.'.join(map(str, MIN_VERSION))}, the oldest coresweep runs on"
            + (" (YAML reads an unquoted 3.10 as the number 3.1: quote it)" if minor == "1" else "")
        )
    threaded = bool(t or gil)
    if threaded and version[:2] < MIN_FREE_THREADED:
        raise ConfigError(
            f"config key {key}: {request!r} asks for a free-threaded build, which exists from "
            f"Python {'.'.join(map(str, MIN_FREE_THREADED))} on"
        )
    return Interpreter(request, version, threaded, force_gil=bool(gil), key=key)


def parse_all(requests: Sequence[Any]) -> list[Interpreter]:
    """Every request of `interpreters:`, in order; two that name one label are refused."""
    out: list[Interpreter] = []
    for i, request in enumerate(requests):
        it = parse(request, f"interpreters[{i}]")
        for j, other in enumerate(out):
            if other.label == it.label:
                raise ConfigError(
                    f"config key interpreters[{i}]: {request!r} is the same interpreter "
                    f"({it.label}) as interpreters[{j}] {other.request!r}"
                )
        out.append(it)
    return out


def of_config(config: dict[str, Any]) -> list[Interpreter]:
    """The interpreters a validated config measures (default: the current one alone)."""
    return parse_all(config["interpreters"])


def label_of(point: Point) -> str:
    """The interpreter a planned point runs under."""
    return str(point.params.get("interpreter", CURRENT))


def project_root() -> Path:
    """The checkout coresweep runs from (what each environment installs editable)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise ConfigError(
            "config key interpreters: environments install coresweep from its checkout, but "
            f"this coresweep is not installed from one ({Path(__file__).parent}); install it "
            "with `pip install -e <checkout>`"
        )
    return root


#: uv's words for the package that stopped an install: "Failed to build `llvmlite==0.50.0`",
#: "... and coresweep==0.1.0 depends on numpy<0.1, we can conclude ..."
_FAILED_PACKAGE = re.compile(
    r"Failed to \w+\s+`([A-Za-z0-9_.\-]+)|depends\s+on\s+([A-Za-z0-9_.\-]+)"
)


def failed_package(output: str) -> str | None:
    """The package uv names in a failed `uv pip install`, if any."""
    m = _FAILED_PACKAGE.search(output)
    return next(g for g in m.groups() if g) if m else None


def _uv() -> str:
    """The uv binary of the `uv` package coresweep depends on, else uv on PATH."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return "uv"
    return find_uv_bin()


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    """A uv command, its output to stderr (the rule's log)."""
    res = subprocess.run(
        [_uv() if cmd[0] == "uv" else cmd[0], *cmd[1:]], capture_output=True, text=True
    )
    sys.stderr.write(f"$ {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return res


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def create(it: Interpreter, project: Path) -> dict[str, Any]:
    """Make the environment with uv (log on stderr) and return the probe of its python;
    ConfigError naming the config key when uv or the new interpreter fails."""
    venv, install = it.uv_commands(project)
    res = _run(venv)
    if res.returncode != 0:
        hint = (
            ""
            if it.path
            else f" (install one with `uv python install {it.uv_request}`, or give a path)"
        )
        raise ConfigError(
            f"config key {it.key}: uv found no Python for {it.request!r}{hint}: {_tail(res.stderr)}"
        )
    res = _run(install)
    if res.returncode != 0:
        pkg = failed_package(res.stderr)
        raise ConfigError(
            f"config key {it.key}: installing coresweep into the {it.label} environment failed"
            + (f" at package {pkg}" if pkg else "")
            + f": {_tail(res.stderr)}"
        )
    info = probe(str(it.env_dir / "bin" / "python"))
    got = tuple(info["version"])
    if got[: len(it.version)] != it.version or info["free_threaded"] != it.free_threaded:
        build = "free-threaded" if info["free_threaded"] else "GIL"
        raise ConfigError(
            f"config key {it.key}: {it.request!r} gave Python "
            f"{'.'.join(map(str, got))} ({build} build) at {info['executable']}"
        )
    return {**info, "request": it.request, "label": it.label, "environment": it.environment,
            "project": str(project)}  # fmt: skip
