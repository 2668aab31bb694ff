"""Verdict for C12 from the synchronization table: lost updates without a lock, and deadlock."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from coresweep.analysis.verdicts import rule, undecided, usable
from coresweep.analysis.verdicts.engine import (
    LOWERS,
    Case,
    Claim,
    Rate,
    Words,
    case_key,
    disturbances,
    evaluate,
    schema_default,
)
from coresweep.analysis.verdicts.record import Verdict
from coresweep.stats import binomial

NAME = "synchronization"
PLOT = "synchronization.svg"
LOST = "lost updates"
DEADLOCK = "deadlock"
INTERVALS = (
    ("ns_per_op", "ns_per_op_ci_lo", "ns_per_op_ci_hi"),
    ("cost_vs_baseline", "cost_vs_baseline_ci_lo", "cost_vs_baseline_ci_hi"),
)
NONNEGATIVE = ("lost_rate", "lost_rate_max", "ns_per_op", "deadlocks", "hung", "trials", "calls")
#: the racy-call rate (deadlocked trials) against experiments.synchronization.rare_rate:
#: "no risk" when its exact 95% upper bound lies below it (0 racy calls in at least 72 for
#: 5%), "a risk" when its lower bound lies above it; the experiment calls on until one of
#: them holds, so a rare race decides the same way in every run
RARE = schema_default("experiments", "synchronization", "rare_rate")


def _counter_text(row: pd.Series) -> str:
    lost = (
        f"lost {row.lost_rate:.2%} of all updates ({int(row.racy_calls)}/{int(row.calls)} calls "
        f"lost some; worst call {row.lost_rate_max:.1%})"
    )
    cost = (
        f"{row.ns_per_op:.1f} ns/increment [{row.ns_per_op_ci_lo:.1f}, {row.ns_per_op_ci_hi:.1f}]"
    )
    if row.baseline:
        cost += (
            f", {row.cost_vs_baseline:.2f}x [{row.cost_vs_baseline_ci_lo:.2f}, "
            f"{row.cost_vs_baseline_ci_hi:.2f}] the cost of unsynchronized {row.baseline}"
        )
    return f"{row.mechanism}: {lost}; {cost}"


def _deadlock_text(row: pd.Series) -> str:
    detected = (
        f", detected after median {row.detect_ms_median:.0f} ms (max {row.detect_ms_max:.0f})"
        if row.deadlocks
        else ""
    )
    return (
        f"{row.mechanism}: deadlocked in {int(row.deadlocks)}/{int(row.trials)} trials"
        f"{detected}; {int(row.hung)} left hanging"
    )


def risks(table: pd.DataFrame) -> list[Case]:
    """Lost updates: per unsynchronized mechanism, calls that lost some (k of n); deadlock:
    trials of opposite lock order that deadlocked. A crowded machine may race less, so
    contention can only have hidden a risk."""
    t = usable(table)
    counters = t[(t.kind == "counter") & ~t.synchronized.astype(bool)]
    cases = []
    for _, r in counters.iterrows():
        k, n = int(r.racy_calls), int(r.calls)
        rate, lo, hi = binomial(k, n)
        label = f"{r.mechanism} lost updates in {k}/{n} calls (worst call {r.lost_rate_max:.1%})"
        cases.append(Case(LOST, case_key(r, ("kind", "mechanism")), rate, lo, hi,
                          disturbances(r, LOWERS), label=label))  # fmt: skip
    for _, r in t[(t.kind == "deadlock") & (t.mechanism == "locks-opposite-order")].iterrows():
        k, n, hung = int(r.deadlocks), int(r.trials), int(r.hung)
        rate, lo, hi = binomial(k, n)
        left = f"{hung}/{n} trials left hanging: the timeout did not hold" if hung else ""
        label = f"{r.mechanism} deadlocked in {k}/{n} trials, {hung} left hanging"
        cases.append(Case(DEADLOCK, case_key(r, ("kind", "mechanism")), rate, lo, hi,
                          disturbances(r, LOWERS), label=label, blocked=left))  # fmt: skip
    return cases


def _where(table: pd.DataFrame) -> str:
    counters, locks = table[table.kind == "counter"], table[table.kind == "deadlock"]
    first = table.iloc[0]
    timeout = locks.lock_timeout_ms.max() if not locks.empty else float("nan")
    return (
        f"{int(counters.threads.max()) if not counters.empty else 2} threads on one shared "
        f"counter, CPython {first.python} (GIL switch interval "
        f"{1e3 * first.switch_interval_s:.0f} ms), Numba nogil without atomics; deadlock: "
        f"2 threads, 2 locks, acquire timeout {timeout:.0f} ms"
    )


C12 = Claim(
    "C12",
    risks,
    Rate(RARE, below=False, seen_decides=False),
    Words("seen in", f"rarer than {RARE:.0%}, seen in", "the risk"),
    disturbances=("capacity", "flag"),
    context=_where,
    plot=PLOT,
    fmt="{:.0%}",
)
CLAIMS = (C12,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def synchronization_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C12: supported when unsynchronized threads lose updates and opposite lock order
    deadlocks (detected, never hanging)."""
    if not risks(table):
        conditions = f"{_where(table)} on {machine}"
        return [undecided("C12", "no counter or deadlock measured", conditions, NAME, (PLOT,))]
    v = evaluate(C12, table, machine, threshold)
    t = usable(table)
    lines = [_counter_text(r) for _, r in t[t.kind == "counter"].iterrows()]
    lines += [_deadlock_text(r) for _, r in t[t.kind == "deadlock"].iterrows()]
    conditions = v.conditions
    if "python-inline" in set(t[(t.kind == "counter") & (t.racy_calls == 0)].mechanism):
        conditions += (
            " (python-inline has no point where CPython hands the GIL over, a call or a loop "
            "back-edge, between its read and its write: an interpreter detail, not a guarantee)"
        )
    return [replace(v, evidence="; ".join([v.evidence, *lines]), conditions=conditions)]
