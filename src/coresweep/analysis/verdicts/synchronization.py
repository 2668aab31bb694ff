"""Verdict for C12 from the synchronization table: lost updates without a lock, and deadlock."""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    AGAINST,
    NONE,
    Call,
    Side,
    check_table,
    combine,
    holding,
    judge,
    merge,
    open_reason,
    say,
    undecided,
    usable,
)

NAME = "synchronization"
PLOT = "synchronization.svg"
LOST = "lost updates"
DEADLOCK = "deadlock"
INTERVALS = (
    ("ns_per_op", "ns_per_op_ci_lo", "ns_per_op_ci_hi"),
    ("cost_vs_baseline", "cost_vs_baseline_ci_lo", "cost_vs_baseline_ci_hi"),
)
NONNEGATIVE = ("lost_rate", "lost_rate_max", "ns_per_op", "deadlocks", "hung", "trials", "calls")


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


def synchronization_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C12: supported when unsynchronized threads lose updates and opposite lock order deadlocks."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    table = usable(table)
    counters = table[table.kind == "counter"]
    locks = table[table.kind == "deadlock"]
    unsync = counters[~counters.synchronized.astype(bool)]
    opposite = locks[locks.mechanism == "locks-opposite-order"]
    calls: dict[str, Call] = {}
    if not unsync.empty:
        # a lost update is a fact; none lost on a crowded machine may be fewer real races
        calls[LOST] = merge(
            [
                judge(bool(r.lost_rate_max > 0), Side(r, AGAINST, who=r.mechanism))
                for _, r in unsync.iterrows()
            ],
            "any",
        )
    if not opposite.empty:
        row = opposite.iloc[0]
        calls[DEADLOCK] = judge(bool(row.deadlocks > 0 and row.hung == 0), Side(row, NONE))
    first = table.iloc[0]
    conditions = (
        f"{int(counters.threads.max()) if not counters.empty else 2} threads on one shared "
        f"counter, CPython {first.python} (GIL switch interval "
        f"{1e3 * first.switch_interval_s:.0f} ms), Numba nogil without atomics; deadlock: "
        f"2 threads, 2 locks, acquire timeout "
        f"{locks.lock_timeout_ms.max() if not locks.empty else float('nan'):.0f} ms; on {machine}"
    )
    if not calls:
        return [undecided("C12", "no counter or deadlock measured", conditions, NAME, PLOT)]
    evidence = [_counter_text(r) for _, r in counters.iterrows()]
    evidence += [_deadlock_text(r) for _, r in locks.iterrows()]
    evidence += [f"{k}{c.text()}" for k, c in calls.items() if c.note]
    racy = list(unsync[unsync.lost_rate_max > 0].mechanism)
    safe = list(unsync[unsync.lost_rate_max == 0].mechanism)
    conditions += f"; updates lost by {racy or 'none'}, not by {safe or 'none'}"
    if "python-inline" in safe:
        conditions += (
            " (python-inline has no point where CPython hands the GIL over, a call or a loop "
            "back-edge, between its read and its write: an interpreter detail, not a guarantee)"
        )
    results = {k: c.value for k, c in calls.items()}
    verdict = combine(results)
    facts = {
        LOST: f"unsynchronized threads lost up to {unsync.lost_rate_max.max():.1%} of updates "
        f"({', '.join(racy)})"
        if racy
        else f"no update lost by {', '.join(safe)}",
    }
    if not opposite.empty:
        d = opposite.iloc[0]
        hung = "all detected" if d.hung == 0 else f"{int(d.hung)} left hanging"
        facts[DEADLOCK] = (
            f"opposite lock order deadlocked in {int(d.deadlocks)}/{int(d.trials)} trials, {hung}"
        )

    def said(v: bool | None, sep: str) -> str:
        return sep.join(facts[k] for k in holding(results, v))

    headline = say(
        verdict,
        results,
        yes=(
            f": {said(True, ' and ')}",
            f" for {{which}} ({said(True, '; ')})",
        ),
        no=(
            f": {said(False, ' and ')}",
            f" for {{which}} ({said(False, '; ')})",
        ),
        open_=" for {which}",
        on="the risk",
        reason=open_reason(calls.values(), "neither risk was decided"),
    )
    return [Verdict("C12", verdict, "; ".join(evidence), conditions, NAME, PLOT, headline)]
