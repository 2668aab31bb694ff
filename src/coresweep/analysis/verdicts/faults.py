"""Verdict for C6 from the fault table: do process pools keep one failure from the others?"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from coresweep.analysis.verdicts import (
    clip,
    is_processes,
    is_threads,
    rule,
    undecided,
    usable,
)
from coresweep.analysis.verdicts.engine import (
    RAISES,
    Case,
    Claim,
    Disturbance,
    Rate,
    Words,
    case_key,
    disturbances,
    evaluate,
    schema_default,
    span,
)
from coresweep.analysis.verdicts.record import Verdict
from coresweep.flags import Flag
from coresweep.stats import binomial

#: faults that end a process; a Python exception or MemoryError only ends a task
HARD = ("exit", "segv", "sigkill")
NAME = "faults"
PLOT = "faults_matrix.svg"
NONNEGATIVE = ("detect_s", "run_s", "recovery_s", "others", "others_completed", "workers", "tasks")
#: flags that describe the outcome (processes left behind, a kill at shutdown): not doubts
OUTCOMES = {Flag.ORPHANS: None, Flag.UNCLEAN_SHUTDOWN: None}
#: a dead worker's task never returns under this supervision: a hang is what the pool does
HANGS_BY_DESIGN = "worker-replaced-task-lost"
#: "isolates" needs the exact 95% upper bound of the loss rate below this: the schema's
#: default of experiments.faults.isolation_rate, which also sets how many clean trials a cell
#: runs (11); one observed loss decides "can lose its neighbours"
ISOLATION_RATE = schema_default("experiments", "faults", "isolation_rate")


def _cells(g: pd.DataFrame) -> str:
    """One backend's cells in words, grouped by outcome: others done, detection, recovery."""
    parts = []
    for outcome, h in g.groupby("outcome", sort=False):
        detect = h.detect_s.dropna()
        seen = (
            f"error reached the caller after {span(detect)} s "
            f"({', '.join(sorted(set(h.error_seen)))})"
            if len(detect)
            else "no error ever reached the caller"
        )
        parts.append(
            f"{outcome} for {'/'.join(h.fault)} (other tasks completed "
            f"{span(h.others_completed, '{:.0f}')}/{h.others.iloc[0]}; {seen}; fresh task ran "
            f"afterwards in {int(h.recovered.sum())}/{len(h)})"
        )
    return "; ".join(parts)


def trials(cell: pd.Series) -> tuple[int, int]:
    """(trials in which some other task was lost or hung, trials): from the trial columns,
    else the cell's one outcome."""
    n = cell.get("trials")
    if pd.notna(n) and "trials_isolated" in cell:
        return int(n) - int(cell["trials_isolated"]), int(n)
    return int(cell.outcome != "isolated"), 1


def _moved(cell: pd.Series) -> tuple[Disturbance, ...]:
    """What could have made this cell look worse: contention stretches a hang past its
    timeout, unless the pool's own supervision says the task never returns; any other flag
    (not the outcome flags) either way."""
    row = cell.to_dict()
    hung = cell.outcome == "hung" or int(cell.get("trials_hung", 0) or 0) > 0
    by_design = cell.get("backend_supervision") == HANGS_BY_DESIGN
    out = []
    for d in disturbances(row, RAISES, kinds=OUTCOMES):
        if d.kind == "flag":
            out.append(d)
        elif hung and not by_design:
            out.append(Disturbance(d.kind, None, RAISES, d.note))  # a timeout, not a speed
    return tuple(out)


def loss_rates(table: pd.DataFrame) -> list[Case]:
    """Per process pool and process-ending fault: the rate of trials that lost or hung
    another task, with its exact binomial interval."""
    t = usable(table)
    hard = t[(t.status != "error") & t.fault.isin(HARD)]
    cases = []
    for _, cell in hard[is_processes(hard)].iterrows():
        k, n = trials(cell)
        rate, lo, hi = binomial(k, n)
        cases.append(
            Case(
                str(cell.backend),
                case_key(cell, ("backend", "fault")),
                rate,
                lo,
                hi,
                _moved(cell),
                label=f"{cell.fault} lost others in {k}/{n}",
            )  # fmt: skip
        )
    return cases


def _where(table: pd.DataFrame) -> str:
    first = table.iloc[0]
    return (
        f"{first.tasks} tasks, task {first.faulty_task} faulty, {first.workers} workers, "
        f"hung = unsettled {first.hang_seconds} s after the last task settled and after the "
        f"recovery test; Dask allowed-failures {first.allowed_failures}; worst-case faulty "
        f"run {float(table.run_s.max()):.1f} s; isolated = every other task completed"
    )


C6 = Claim(
    "C6",
    loss_rates,
    Rate(ISOLATION_RATE),
    Words("others lost or hung in", "others lost or hung in", "the pool"),
    over="all",
    disturbances=("capacity", "flag"),
    context=_where,
    plot=PLOT,
    fmt="{:.0%}",
)
CLAIMS = (C6,)


@rule(NAME, nonnegative=NONNEGATIVE)
def faults_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C6: supported when every process pool isolates every hard fault; conditional when
    some do, or when none does but process pools keep the caller alive where threads die."""
    table = usable(table)
    t = table[table.status != "error"]
    hard = t[t.fault.isin(HARD)]
    procs, threads = hard[is_processes(hard)], hard[is_threads(hard)]
    if procs.empty:
        reason = "no process pool measured with a process-ending fault (exit, segv, sigkill)"
        return [undecided("C6", reason, f"{_where(table)} on {machine}", NAME, (PLOT,))]
    v = evaluate(C6, table, machine, threshold)
    evidence = [v.evidence] + [f"{b}: {_cells(g)}" for b, g in procs.groupby("backend")]
    if not threads.empty:
        died = int((threads.outcome == "crashed").sum())
        evidence.append(
            f"thread pools ({', '.join(sorted(set(threads.backend)))}): the whole program died "
            f"in {died}/{len(threads)} process-ending cells"
        )
    survived = bool(procs.caller_survived.all())
    threads_died = not threads.empty and bool((threads.outcome == "crashed").all())
    verdict, headline = v.verdict, v.headline
    if verdict == "refuted" and survived and threads_died:
        outcomes = ", ".join(sorted(set(procs[procs.outcome != "isolated"].outcome)))
        verdict = "conditional"  # no pool isolates the others, but processes shield the caller
        headline = clip(
            "Depends on what must survive: the caller did under every process pool, not under "
            f"thread pools; the other tasks did not ({outcomes})"
        )
    conditions = f"{v.conditions}; the caller survived every process-ending fault: {survived}"
    return [replace(v, verdict=verdict, headline=headline, evidence="; ".join(evidence),
                    conditions=conditions)]  # fmt: skip
