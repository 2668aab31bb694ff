"""Verdict for C8 from the task-size table: do processes pay off only for large tasks?"""

from __future__ import annotations

import math

import pandas as pd

from coresweep.analysis.crossover import BELOW, INTERPOLATED, NEVER
from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import combine

PROCESS_BACKENDS = ("processes-fork", "processes-forkserver", "processes-spawn", "dask-processes")
DASK_DOCUMENTED = (200e-6, 1e-3)  # per-task overhead the Dask docs quote
PLOT = "task_size_speedup.svg"


def fmt_seconds(x: float) -> str:
    """Seconds in the unit a reader expects: µs, ms or s."""
    if not math.isfinite(x):
        return "∞"
    if abs(x) < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if abs(x) < 1:
        return f"{x * 1e3:.3g} ms"
    return f"{x:.3g} s"


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (kernel, backend) with the backend-level columns of the table."""
    lad = table[table.level == "ladder"]
    g = lad.groupby(["kernel", "backend"], sort=False)
    out = g.first()[
        [
            "kind",
            "p",
            "crossover_s",
            "crossover_status",
            "overhead_task_s",
            "overhead_task_ci_lo",
            "overhead_task_ci_hi",
            "start_s",
            "start_first_s",
            "speedup_largest",
            "cold_break_even_s",
        ]
    ]
    out["smallest"] = g.task_seconds.min()
    out["largest"] = g.task_seconds.max()
    out["check_ok"] = g.check_ok.all()
    return out.reset_index()


def crossover_text(row: pd.Series) -> str:
    if row.crossover_status == INTERPOLATED:
        return fmt_seconds(row.crossover_s)
    if row.crossover_status == BELOW:
        return f"< {fmt_seconds(row.smallest)}"
    return f"never up to {fmt_seconds(row.largest)}"


def _dask_note(s: pd.DataFrame) -> str:
    lo, hi = DASK_DOCUMENTED
    notes = []
    for backend, g in s[s.backend.str.startswith("dask")].groupby("backend"):
        o = float(g.overhead_task_s.median())
        where = "within" if lo <= o <= hi else ("above" if o > hi else "below")
        notes.append(f"{backend} {fmt_seconds(o)} per task ({where} the documented 200 µs – 1 ms)")
    return "; ".join(notes)


def _per_backend(s: pd.DataFrame, column: str) -> str:
    parts = []
    for backend, g in s.groupby("backend", sort=False):
        vals = sorted(g[column])
        text = fmt_seconds(vals[0])
        if len(vals) > 1 and fmt_seconds(vals[-1]) != text:
            text += f"–{fmt_seconds(vals[-1])}"
        parts.append(f"{backend} {text}")
    return ", ".join(parts)


def task_size_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C8: supported where every process backend loses on small tasks and wins on large ones."""
    if table.empty:
        return []
    s = summary(table)
    p = int(s.p.max())
    where = (
        f"p={p} workers on {machine}; tasks of {fmt_seconds(s.smallest.min())} .. "
        f"{fmt_seconds(s.largest.max())} serial time; crossover = smallest task above which "
        "the speedup's 95% CI lower bound stays > 1 (log-interpolated)"
    )
    if p < 2:
        return [
            Verdict("C8", "inconclusive", "fewer than 2 cores measured", where, "task_size", PLOT)
        ]
    par = s[s.backend != "serial"]
    procs = par[par.backend.isin(PROCESS_BACKENDS)]
    if procs.empty:
        return [
            Verdict("C8", "inconclusive", "no process backend measured", where, "task_size", PLOT)
        ]
    holds = {
        f"{r.kernel}/{r.backend}": r.crossover_status == INTERPOLATED and r.check_ok
        for r in procs.itertuples()
    }
    evidence = []
    for kernel, g in par.groupby("kernel", sort=False):
        xs = ", ".join(f"{r.backend} {crossover_text(r)}" for _, r in g.iterrows())
        evidence.append(f"{kernel} ({g.kind.iloc[0]}) crossover: {xs}")
    evidence.append(f"cold start: {_per_backend(par, 'start_first_s')}")
    evidence.append(f"warm overhead per task: {_per_backend(par, 'overhead_task_s')}")
    dask = _dask_note(par)
    if dask:
        evidence.append(f"Dask: {dask}")
    small = [
        k for k, r in zip(holds, procs.itertuples(), strict=True) if r.crossover_status == BELOW
    ]
    never = [
        k for k, r in zip(holds, procs.itertuples(), strict=True) if r.crossover_status == NEVER
    ]
    failed = [f"{r.kernel}/{r.backend}" for r in procs.itertuples() if not r.check_ok]
    conditions = (
        f"{where}; holds (loses on small tasks, wins on large) for "
        f"{[k for k, v in holds.items() if v] or 'none'}; wins even on the smallest tasks: "
        f"{small or 'none'}; never wins: {never or 'none'}"
        + (f"; result checks failed: {failed}" if failed else "")
    )
    return [Verdict("C8", combine(holds), "; ".join(evidence), conditions, "task_size", PLOT)]
