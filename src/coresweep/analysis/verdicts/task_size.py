"""Verdict for C8 from the task-size table: do processes pay off only for large tasks?"""

from __future__ import annotations

import math

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    AGAINST,
    DESCRIPTOR_COLUMNS,
    FOR,
    Call,
    Side,
    cannot_test,
    check_table,
    clears,
    combine,
    decide,
    described,
    is_processes,
    judge,
    merge,
    names,
    open_reason,
    outcome_text,
    say,
    span,
    undecided,
    usable,
)
from coresweep.crossover import BELOW, INTERPOLATED

NAME = "task_size"
INTERVALS = (("overhead_task_s", "overhead_task_ci_lo", "overhead_task_ci_hi"),)
NONNEGATIVE = ("task_seconds", "start_s", "overhead_task_s")
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
            *[c for c in DESCRIPTOR_COLUMNS if c in lad.columns],
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
    """Warm overhead per task of the backends with Dask's worker nanny vs Dask's docs."""
    lo, hi = DASK_DOCUMENTED
    notes = []
    nanny = s[(described(s).backend_start_method == "nanny").to_numpy()]
    for backend, g in nanny.groupby("backend"):
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


def _case(ladder: pd.DataFrame, check_ok: bool) -> tuple[Call, Call, Call]:
    """(holds, loses on the smallest tasks, wins on the largest) for one kernel/backend.
    Contention slows the pool: a win despite it stands, a loss does not decide."""
    lad = ladder.sort_values("task_seconds")
    small, large = lad.iloc[0], lad.iloc[-1]
    beats_small = clears(small.speedup_ci_lo, small.speedup_ci_hi, 1.0)
    loses = judge(
        None if beats_small is None else not beats_small,
        Side(small, FOR, achieved=small.speedup_ci_lo, who="smallest tasks"),
        interval=(small.speedup_ci_lo, small.speedup_ci_hi, 1.0),
    )
    wins = decide(
        large.speedup_ci_lo,
        large.speedup_ci_hi,
        1.0,
        Side(large, AGAINST, achieved=large.speedup_ci_lo, who="largest tasks"),
    )
    holds = merge([loses, wins])
    if not check_ok and holds.value is not None:
        holds = Call(None, "undecided: a result check failed", holds.probe)
    return holds, loses, wins


def task_size_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C8: supported where every process backend loses on small tasks and wins on large ones."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    table = usable(table)
    s = summary(table)
    p = int(s.p.max()) if not s.empty else 1
    where = (
        f"p={p} workers on {machine}; tasks of {fmt_seconds(s.smallest.min())} .. "
        f"{fmt_seconds(s.largest.max())} serial time; pays off = speedup interval above 1; "
        "crossover = smallest task above which the speedup's 95% CI lower bound stays > 1 "
        "(log-interpolated)"
    )
    if p < 2:
        return cannot_test(
            ["C8"],
            "Needs ≥ 2 usable cores for a process pool to beat serial; this run had p=1.",
            where,
            NAME,
            PLOT,
        )
    par = s[(described(s).backend_isolation != "inline").to_numpy()]
    procs = par[is_processes(par)]
    if procs.empty:
        return [undecided("C8", "no process backend measured", where, NAME, PLOT)]
    lad = table[table.level == "ladder"]
    cases: dict[str, tuple[Call, Call, Call]] = {}
    for r in procs.itertuples():
        rows = lad[(lad.kernel == r.kernel) & (lad.backend == r.backend)]
        cases[f"{r.kernel}/{r.backend}"] = _case(rows, bool(r.check_ok))
    res = {k: c[0].value for k, c in cases.items()}
    evidence = []
    for kernel, g in par.groupby("kernel", sort=False):
        xs = ", ".join(
            f"{r.backend} {crossover_text(r)}"
            + (cases[f"{kernel}/{r.backend}"][0].text() if f"{kernel}/{r.backend}" in cases else "")
            for r in g.itertuples()
        )
        evidence.append(f"{kernel} ({g.kind.iloc[0]}) crossover: {xs}")
    evidence.append(f"cold start: {_per_backend(par, 'start_first_s')}")
    evidence.append(f"warm overhead per task: {_per_backend(par, 'overhead_task_s')}")
    dask = _dask_note(par)
    if dask:
        evidence.append(f"Dask: {dask}")
    small = [k for k, c in cases.items() if c[1].value is False]
    never = [k for k, c in cases.items() if c[2].value is False]
    verdict = combine(res)
    tiny, big = fmt_seconds(s.smallest.min()), fmt_seconds(s.largest.max())
    held = procs[[res[f"{r.kernel}/{r.backend}"] is True for r in procs.itertuples()]]

    def why_not(named: bool) -> str:
        parts = [(f"never beat serial up to {big} tasks", never), (f"won on {tiny} tasks", small)]
        return "; ".join(f"{t} ({names(k)})" if named else t for t, k in parts if k)

    headline = say(
        verdict,
        res,
        yes=(
            f": process pools lose on {tiny} tasks and win from "
            f"{span(held.crossover_s, fmt_seconds)} tasks ({{which}})",
            " for {which} (loses on small tasks, wins on large)",
        ),
        no=(f": {why_not(True)}", f" for {{which}} ({why_not(False)})"),
        open_=" for {which}",
        on="the kernel and pool",
        reason=open_reason(
            [c[0] for c in cases.values()],
            f"no process pool's speedup intervals lie clear of 1 at both ends ({tiny}, {big})",
        ),
    )
    conditions = (
        f"{where}; {outcome_text(res)}; wins even on the smallest tasks: {small or 'none'}; "
        f"never wins: {never or 'none'}"
    )
    return [Verdict("C8", verdict, "; ".join(evidence), conditions, NAME, PLOT, headline)]
