"""`coresweep advise --interpreters`: the same advice, measured once per interpreter.

Each interpreter request (as in the config's `interpreters:`: "current", "3.13", "3.14t",
"3.14+gil" or a path) runs `coresweep advise` in its own uv environment (.venvs/<label>/,
created on first use and reused, as the workflow's rule does), one after another, so no
two of them share the cores. Each prints its own advice; then one line says what holds on
which interpreter ("threads on 3.14t; processes-fork on 3.11 (GIL)"), because the answer to
"threads or processes" is an answer on an interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from coresweep import interpreters
from coresweep.config import ConfigError

KEY = "--interpreters"

#: `coresweep advise` options passed on to each interpreter's run: (dest, flag)
_VALUED = (("tasks", "--tasks"), ("args", "--args"), ("check", "--check"),
           ("releases_gil", "--releases-gil"), ("cores", "--cores"),
           ("backends", "--backends"), ("ntasks", "--ntasks"),
           ("budget_seconds", "--budget-seconds"), ("seed", "--seed"))  # fmt: skip


@dataclass(frozen=True)
class Measured:
    """One interpreter's advice: its label, its build, what its run printed and returned."""

    label: str  # "3.11", "3.14t": the version the run reported, with t for free-threaded
    advice: dict[str, Any]
    returncode: int


def child_argv(args: Any, json_out: str) -> list[str]:
    """The `advise` arguments of one interpreter's run: the user's, without --interpreters,
    with the advice written as JSON to json_out."""
    out = ["advise", args.callable]
    for dest, flag in _VALUED:
        value = getattr(args, dest, None)
        if value is not None:
            out += [flag, str(value)]
    if getattr(args, "oversubscribe", False):
        out.append("--oversubscribe")
    for path in getattr(args, "path", None) or []:
        out += ["--path", path]
    return [*out, "--json", json_out]


def command(it: interpreters.Interpreter) -> list[str]:
    """The argv prefix that runs coresweep's CLI in the interpreter's environment."""
    if it.current:
        return [sys.executable, "-m", "coresweep.cli"]
    return [str(it.env_dir / "bin" / "python"), "-m", "coresweep.cli"]


def ensure_environment(it: interpreters.Interpreter) -> None:
    """Create the interpreter's environment unless its marker shows one (ConfigError naming
    --interpreters when uv or the interpreter fails)."""
    if it.current or it.marker.exists():
        return
    print(f"creating the {it.label} environment in {it.env_dir} with uv", file=sys.stderr)
    from coresweep.records import write_json_atomic

    write_json_atomic(it.marker, interpreters.create(it, interpreters.project_root()))


def build_label(info: dict[str, Any]) -> str:
    """ "3.13 (GIL)", "3.14t": an interpreter by its probe (version, build, GIL at start)."""
    version = ".".join(str(v) for v in info["version"][:2])
    if info["free_threaded"]:
        return f"{version}t" + (" (GIL on)" if info.get("gil_enabled") else "")
    return f"{version} (GIL)"


def probe_of(it: interpreters.Interpreter) -> dict[str, Any]:
    """The interpreter's probe: its environment's marker, or this Python's, run once."""
    if it.current:
        return interpreters.probe(sys.executable)
    return json.loads(it.marker.read_text())


def summary(measured: Sequence[Measured]) -> str:
    """One line: each interpreter's recommended backend, or why it has none."""
    parts = []
    for m in measured:
        rec = m.advice.get("recommendation") or {}
        if m.advice.get("error"):
            parts.append(f"no advice on {m.label}: {m.advice['error']}")
        elif rec:
            parts.append(f"{rec['backend']} on {m.label}")
        else:
            parts.append(f"no recommendation on {m.label} (exit {m.returncode})")
    return "; ".join(parts)


Runner = Callable[[list[str]], int]


def _run(argv: list[str]) -> int:
    """One interpreter's advise run, its output passed through as it comes."""
    return subprocess.run(argv, check=False).returncode


def parse_requests(requests: Sequence[str]) -> list[interpreters.Interpreter]:
    """The requests as interpreters; ConfigError naming --interpreters[i] when one is bad."""
    try:
        return interpreters.parse_all(list(requests))
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("config key interpreters", KEY)) from None


def across(args: Any, requests: Sequence[str], run: Runner = _run) -> int:
    """Advise on each interpreter in turn; 0 when every run gave advice without problems."""
    its = parse_requests(requests)
    try:
        for it in its:
            ensure_environment(it)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("config key interpreters", KEY)) from None
    measured = []
    with tempfile.TemporaryDirectory(prefix="coresweep-advise-") as tmp:
        for i, it in enumerate(its):
            out = Path(tmp) / f"{i}.json"
            label = build_label(probe_of(it))
            print(f"\n== coresweep advise on {label} ({it.request}) ==", flush=True)
            code = run([*command(it), *child_argv(args, str(out))])
            advice = json.loads(out.read_text()) if out.exists() else {"error": f"exit {code}"}
            measured.append(Measured(label, advice, code))
    line = summary(measured)
    print(f"\nacross interpreters: {line}")
    if args.json:
        from coresweep.records import write_json_atomic

        write_json_atomic(
            args.json, {"summary": line, "interpreters": [asdict(m) for m in measured]}
        )
    return max(m.returncode for m in measured)
