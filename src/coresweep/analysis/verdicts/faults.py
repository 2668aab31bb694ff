"""Verdict for C6 from the fault table: do process pools keep one failure from the others?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    AGAINST,
    NONE,
    Call,
    Side,
    check_table,
    clip,
    combine,
    is_processes,
    is_threads,
    judge,
    merge,
    open_reason,
    outcome_text,
    say,
    undecided,
    usable,
)

#: faults that end a process; a Python exception or MemoryError only ends a task
HARD = ("exit", "segv", "sigkill")
NAME = "faults"
PLOT = "faults_matrix.svg"
NONNEGATIVE = ("detect_s", "run_s", "recovery_s", "others", "others_completed", "workers", "tasks")
#: flags that describe the outcome (processes left behind, a kill at shutdown): not doubts
OUTCOMES = {"orphans": NONE, "unclean-shutdown": NONE}


def _span(values: pd.Series, fmt: str = "{:.0f}") -> str:
    lo, hi = fmt.format(values.min()), fmt.format(values.max())
    return lo if lo == hi else f"{lo}-{hi}"


def _cells(g: pd.DataFrame) -> str:
    """One backend's cells in words, grouped by outcome: others done, detection, recovery."""
    parts = []
    for outcome, h in g.groupby("outcome", sort=False):
        detect = h.detect_s.dropna()
        seen = (
            f"error reached the caller after {_span(detect, '{:.2f}')} s "
            f"({', '.join(sorted(set(h.error_seen)))})"
            if len(detect)
            else "no error ever reached the caller"
        )
        parts.append(
            f"{outcome} for {'/'.join(h.fault)} (other tasks completed "
            f"{_span(h.others_completed)}/{h.others.iloc[0]}; {seen}; fresh task ran "
            f"afterwards in {int(h.recovered.sum())}/{len(h)})"
        )
    return "; ".join(parts)


def _isolated(cell: pd.Series) -> Call:
    """Did this cell keep the fault to its own task? A hang under contention could be a
    slow machine; the other outcomes are what the pool does."""
    hung = cell.outcome == "hung"
    return judge(cell.outcome == "isolated", Side(cell, AGAINST if hung else NONE, bias=OUTCOMES))


def faults_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C6: supported when every process pool isolates every hard fault; conditional when some do."""
    if table.empty:
        return []
    check_table(table, NAME, nonnegative=NONNEGATIVE)
    table = usable(table)
    t = table[table.status != "error"]
    hard = t[t.fault.isin(HARD)]
    # selected by the descriptor columns the table carries, never by a backend's name
    procs = hard[is_processes(hard)]
    threads = hard[is_threads(hard)]
    soft = t[~t.fault.isin(HARD)]
    worst = float(table.run_s.max())
    first = table.iloc[0]
    where = (
        f"{first.tasks} tasks, task {first.faulty_task} faulty, {first.workers} workers, "
        f"hung = unsettled {first.hang_seconds} s after the last task settled and after the "
        f"recovery test; Dask allowed-failures "
        f"{first.allowed_failures}; on {machine}; "
        f"worst-case faulty run {worst:.1f} s"
    )
    if procs.empty:
        reason = "no process pool measured with a process-ending fault (exit, segv, sigkill)"
        return [undecided("C6", reason, where, NAME, PLOT)]
    calls = {
        str(b): merge([_isolated(c) for _, c in g.iterrows()]) for b, g in procs.groupby("backend")
    }
    isolates = {b: c.value for b, c in calls.items()}
    evidence = [f"{b}: {_cells(g)}{calls[str(b)].text()}" for b, g in procs.groupby("backend")]
    if not threads.empty:
        died = int((threads.outcome == "crashed").sum())
        evidence.append(
            f"thread pools ({', '.join(sorted(set(threads.backend)))}): the whole program died "
            f"in {died}/{len(threads)} process-ending cells"
        )
    if not soft.empty:
        ok = soft.outcome == "isolated"
        evidence.append(
            f"exception/memory faults: isolated in {int(ok.sum())}/{len(soft)} cells across "
            f"all pools (threads included)"
        )
    survived = bool(procs.caller_survived.all())
    conditions = (
        f"{where}; isolated = caller alive, every other task completed, the error surfaced "
        f"and the pool ran a fresh task afterwards; {outcome_text(isolates)}; the caller "
        f"survived every process-ending fault under process pools: {survived}"
    )
    verdict = combine(isolates)
    failed = procs[procs.outcome != "isolated"]
    outcomes = ", ".join(sorted(set(failed.outcome)))
    faults = "/".join(f for f in HARD if f in set(procs.fault))
    threads_died = not threads.empty and bool((threads.outcome == "crashed").all())
    headline = say(
        verdict,
        isolates,
        yes=(
            f": every process pool kept the other tasks running through {faults} ({{which}})",
            f" for {{which}} (isolated every {faults})",
        ),
        no=(
            f": no process pool isolated every {faults} ({outcomes})",
            f" for {{which}} ({outcomes})",
        ),
        open_=" for {which}",
        on="the pool",
        reason=open_reason(calls.values(), "no pool's outcome was decided"),
    )
    if verdict == "refuted" and survived and threads_died:
        verdict = "conditional"  # no pool isolates the others, but processes shield the caller
        headline = clip(
            "Depends on what must survive: the caller did under every process pool, not under "
            f"thread pools; the other tasks did not ({outcomes})"
        )
    return [Verdict("C6", verdict, "; ".join(evidence), conditions, NAME, PLOT, headline)]
