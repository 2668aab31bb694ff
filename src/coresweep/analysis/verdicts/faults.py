"""Verdict for C6 from the fault table: do process pools keep one failure from the others?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import combine

#: faults that end a process; a Python exception or MemoryError only ends a task
HARD = ("exit", "segv", "sigkill")
PROCESS_POOLS = ("process-pool", "mp-pool", "dask-processes")
THREAD_POOLS = ("threads", "dask-threads")


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


def faults_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C6: supported when every process pool isolates every hard fault; conditional when some do."""
    if table.empty:
        return []
    t = table[table.status != "error"]
    hard = t[t.fault.isin(HARD)]
    procs = hard[hard.backend.isin(PROCESS_POOLS)]
    threads = hard[hard.backend.isin(THREAD_POOLS)]
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
        return [
            Verdict(
                "C6",
                "inconclusive",
                "no process pool measured with a process-ending fault (exit, segv, sigkill)",
                where,
                "faults",
                "faults_matrix.svg",
            )
        ]
    isolates = {b: bool((g.outcome == "isolated").all()) for b, g in procs.groupby("backend")}
    evidence = [f"{b}: {_cells(g)}" for b, g in procs.groupby("backend")]
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
    holds = [b for b, v in isolates.items() if v]
    fails = [b for b, v in isolates.items() if not v]
    conditions = (
        f"{where}; isolated = caller alive, every other task completed, the error surfaced "
        f"and the pool ran a fresh task afterwards; holds for {holds or 'none'}, not for "
        f"{fails or 'none'}; the caller survived every process-ending fault under process "
        f"pools: {survived}"
    )
    verdict = combine(isolates)
    threads_died = not threads.empty and bool((threads.outcome == "crashed").all())
    if verdict == "refuted" and survived and threads_died:
        verdict = "conditional"  # no pool isolates the others, but processes shield the caller
    return [Verdict("C6", verdict, "; ".join(evidence), conditions, "faults", "faults_matrix.svg")]
