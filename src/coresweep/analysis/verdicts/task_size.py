"""Verdict for C8 from the task-size table: do processes pay off only for large tasks?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from coresweep.analysis.verdicts import (
    DESCRIPTOR_COLUMNS,
    cannot_test,
    described,
    is_processes,
    names,
    rule,
    undecided,
    usable,
)
from coresweep.analysis.verdicts.engine import (
    LOWERS,
    NO,
    OPPOSITE,
    RAISES,
    Case,
    Claim,
    Decision,
    Ratio,
    Words,
    case_key,
    disturbances,
    doubted,
    evaluate,
    stopped_note,
)
from coresweep.analysis.verdicts.record import Verdict
from coresweep.crossover import BELOW, INTERPOLATED
from coresweep.units import fmt_seconds

NAME = "task_size"
INTERVALS = (("overhead_task_s", "overhead_task_ci_lo", "overhead_task_ci_hi"),)
NONNEGATIVE = ("task_seconds", "start_s", "overhead_task_s")
DASK_DOCUMENTED = (200e-6, 1e-3)  # per-task overhead the Dask docs quote
PLOT = "task_size_speedup.svg"


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


def _procs(table: pd.DataFrame) -> pd.DataFrame:
    s = summary(usable(table))
    par = s[(described(s).backend_isolation != "inline").to_numpy()]
    return par[is_processes(par)]


def pool_payoffs(table: pd.DataFrame) -> list[Case]:
    """Per kernel and process pool, two cases that must both hold: on the smallest tasks
    serial beats the pool (serial / pool time = 1 / speedup above 1), on the largest the
    pool beats serial (speedup above 1). Contention slows the pool: it raises the first
    ratio and lowers the second; slowing the serial baseline does the opposite. The serial
    pass ran at other moments of the point, so its drift counts whole, except where the
    speedup was taken round by round against serial samples of the pool's own rounds
    (`speedup_rounds`, the largest tasks): there it counts per round. A failed result check
    decides nothing."""
    t = usable(table)
    lad = t[t.level == "ladder"]
    if "interpreter" not in lad.columns:
        lad = lad.assign(interpreter="")
    inline = (described(lad).backend_isolation == "inline").to_numpy()
    procs = lad[is_processes(lad)]
    serial = lad[inline].drop_duplicates(["kernel", "interpreter", "arm"])
    base = serial.set_index(["kernel", "interpreter", "arm"])
    cases = []
    for (kernel, backend, interp), rows in procs.groupby(
        ["kernel", "backend", "interpreter"], sort=False
    ):
        rows = rows.sort_values("task_seconds")
        small, large = rows.iloc[0], rows.iloc[-1]
        group = f"{kernel}/{backend}"
        failed = "" if rows.check_ok.all() else "a result check failed"
        for end, row, slows in (("smallest", small, RAISES), ("largest", large, LOWERS)):
            s, lo, hi = row.speedup, row.speedup_ci_lo, row.speedup_ci_hi
            if end == "smallest":
                s, lo, hi = 1 / s, 1 / hi, (1 / lo if lo > 0 else math.inf)
            paired = row.get("speedup_rounds")
            rounds = int(paired) if pd.notna(paired) and paired > 1 else None
            moved = doubted(
                disturbances(row, slows, who=f"{end} tasks", paired_rounds=rounds),
                row,
                row.speedup_ci_lo,
            )
            if (kernel, interp, row.arm) in base.index:
                moved += disturbances(
                    base.loc[(kernel, interp, row.arm)],
                    OPPOSITE[slows],
                    who=f"serial baseline, {end} tasks",
                    paired_rounds=rounds,
                )
            what = "serial/pool" if end == "smallest" else "pool/serial"
            cases.append(
                Case(
                    group,
                    case_key({**row.to_dict(), "end": end}, ("kernel", "backend", "end")),
                    float(s),
                    float(lo),
                    float(hi),
                    moved,
                    label=f"{end} tasks ({fmt_seconds(row.task_seconds)}) {what}",
                    note=stopped_note(row),
                    interpreter=str(interp or ""),
                    blocked=failed,
                )  # fmt: skip
            )
    return cases


def _where(table: pd.DataFrame) -> str:
    s = summary(usable(table))
    p = int(s.p.max()) if not s.empty else 1
    return (
        f"p={p} workers; tasks of {fmt_seconds(s.smallest.min())} .. "
        f"{fmt_seconds(s.largest.max())} serial time; crossover = smallest task above which "
        "the speedup's 95% CI lower bound stays > 1 (log-interpolated)"
    )


def ends(decisions: Sequence[Decision]) -> str:
    """Which pools won even on the smallest tasks, and which never won."""
    small = [d.case.group for d in decisions if "end=smallest" in d.case.key and d.decision == NO]
    never = [d.case.group for d in decisions if "end=largest" in d.case.key and d.decision == NO]
    return (
        f"wins even on the smallest tasks: {names(small) or 'none'}; never wins: "
        f"{names(never) or 'none'}"
    )


C8 = Claim(
    "C8",
    pool_payoffs,
    Ratio(margin=0.0),
    Words(
        "loses on small tasks, wins on large",
        "wins on small tasks or loses on large",
        "the kernel and pool",
        numbers=False,
    ),  # fmt: skip
    band=0.0,
    over="all",
    context=_where,
    describe=ends,
    plot=PLOT,
)
CLAIMS = (C8,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def task_size_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C8: supported where every process backend loses on small tasks and wins on large ones."""
    s = summary(usable(table))
    p = int(s.p.max()) if not s.empty else 1
    where = f"{_where(table)} on {machine}"
    if p < 2:
        reason = "Needs ≥ 2 usable cores for a process pool to beat serial; this run had p=1."
        return cannot_test(["C8"], reason, where, NAME, (PLOT,))
    if _procs(table).empty:
        return [undecided("C8", "no process backend measured", where, NAME, (PLOT,))]
    v = evaluate(C8, table, machine, threshold)
    par = s[(described(s).backend_isolation != "inline").to_numpy()]
    lines = [
        f"{kernel} ({g.kind.iloc[0]}) crossover: "
        + ", ".join(f"{r.backend} {crossover_text(r)}" for r in g.itertuples())
        for kernel, g in par.groupby("kernel", sort=False)
    ]
    lines.append(f"cold start: {_per_backend(par, 'start_first_s')}")
    lines.append(f"warm overhead per task: {_per_backend(par, 'overhead_task_s')}")
    dask = _dask_note(par)
    if dask:
        lines.append(f"Dask: {dask}")
    return [replace(v, evidence="; ".join([v.evidence, *lines]))]
