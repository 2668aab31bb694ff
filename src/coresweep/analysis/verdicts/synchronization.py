"""Verdict for C12 from the synchronization table: lost updates without a lock, and deadlock."""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import combine

NAME = "synchronization"
PLOT = "synchronization.svg"


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
    counters = table[table.kind == "counter"]
    locks = table[table.kind == "deadlock"]
    unsync = counters[~counters.synchronized.astype(bool)]
    opposite = locks[locks.mechanism == "locks-opposite-order"]
    results = {}
    if not unsync.empty:
        results["lost updates without synchronization"] = bool((unsync.lost_rate_max > 0).any())
    if not opposite.empty:
        row = opposite.iloc[0]
        results["deadlock from opposite lock order"] = bool(row.deadlocks > 0 and row.hung == 0)
    first = table.iloc[0]
    conditions = (
        f"{int(counters.threads.max()) if not counters.empty else 2} threads on one shared "
        f"counter, CPython {first.python} (GIL switch interval "
        f"{1e3 * first.switch_interval_s:.0f} ms), Numba nogil without atomics; deadlock: "
        f"2 threads, 2 locks, acquire timeout "
        f"{locks.lock_timeout_ms.max() if not locks.empty else float('nan'):.0f} ms; on {machine}"
    )
    if not results:
        return [
            Verdict(
                "C12", "inconclusive", "no counter or deadlock measured", conditions, NAME, PLOT
            )
        ]
    evidence = [_counter_text(r) for _, r in counters.iterrows()]
    evidence += [_deadlock_text(r) for _, r in locks.iterrows()]
    racy = list(unsync[unsync.lost_rate_max > 0].mechanism)
    safe = list(unsync[unsync.lost_rate_max == 0].mechanism)
    conditions += f"; updates lost by {racy or 'none'}, not by {safe or 'none'}"
    if "python-inline" in safe:
        conditions += (
            " (python-inline has no point where CPython hands the GIL over, a call or a loop "
            "back-edge, between its read and its write: an interpreter detail, not a guarantee)"
        )
    return [Verdict("C12", combine(results), "; ".join(evidence), conditions, NAME, PLOT)]
