"""Verdict for C10 from the single-core table: throughput gain of many threads over one.

Threads are "effective" on one CPU for a kind of work when the whole 95% interval of the
throughput ratio (largest thread count over one thread) lies above 1 + threshold, and not
effective when it lies below.
"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    THRESHOLD,
    Call,
    Side,
    cannot_test,
    check_table,
    combine,
    decide,
    open_reason,
    outcome_text,
    say,
    usable,
)

NAME = "single_core"
PLOT = "single_core.svg"
INTERVALS = (
    ("gain_vs_1", "gain_ci_lo", "gain_ci_hi"),
    ("throughput", "throughput_ci_lo", "throughput_ci_hi"),
)
NONNEGATIVE = ("gain_vs_1", "gain_ci_lo", "throughput", "latency_p50_ms", "latency_p99_ms")


def _gain(row: pd.Series) -> str:
    return f"{row.gain_vs_1:.2f}x [{row.gain_ci_lo:.2f}, {row.gain_ci_hi:.2f}]"


def single_core_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C10: supported if every kind gains, conditional if some do, refuted if none."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    table = usable(table)
    tmax = int(table.threads.max())
    top = table[table.threads == tmax].set_index("kind")
    one = table[table.threads == 1].set_index("kind")
    first = table.iloc[0]
    where = (
        f"pinned to CPU {int(first.cpu)} of {machine}; 1..{tmax} threads; {int(first.tasks)} "
        f"tasks per sample; I/O wait {first.io_ms:g} ms; CPU task = {int(first.cpu_samples)} "
        f"mc-python samples; effective = gain CI above {1 + THRESHOLD:.2f}, not = below"
    )
    if not table.pinned_ok.all():
        reason = "Needs the threads pinned to one CPU; this machine did not allow the pinning."
        return cannot_test(["C10"], reason, where, NAME, PLOT)
    calls: dict[str, Call] = {}
    evidence = []
    for kind, row in top.iterrows():
        base = one.loc[kind]
        call = decide(
            row.gain_ci_lo,
            row.gain_ci_hi,
            1 + THRESHOLD,
            Side(row, who=f"{tmax} threads"),
            Side(base, who="1 thread"),
        )
        calls[str(kind)] = call
        evidence.append(
            f"{kind}: {tmax} vs 1 threads {_gain(row)}{call.text()} ({base.throughput:.0f} -> "
            f"{row.throughput:.0f} tasks/s), per-task latency p50 {base.latency_p50_ms:.2f} -> "
            f"{row.latency_p50_ms:.2f} ms, p99 {base.latency_p99_ms:.1f} -> "
            f"{row.latency_p99_ms:.1f} ms"
        )
    results = {k: c.value for k, c in calls.items()}
    verdict = combine(results)

    headline = say(
        verdict,
        results,
        numbers={str(k): g for k, g in top.gain_vs_1.items()},
        fmt=lambda x: f"{x:.2f}" if x < 10 else f"{x:.0f}",
        yes=(
            f": on one CPU {tmax} threads did {{span}}× the work of one ({{which}})",
            f" for {{which}} ({tmax} threads {{span}}× one thread's throughput)",
        ),
        no=(
            f": on one CPU {tmax} threads did {{span}}× the work of one ({{which}})",
            " for {which} ({span}×)",
        ),
        open_=" for {which}",
        on="the kind of work",
        reason=open_reason(calls.values(), "no kind's gain interval lies clear of the threshold"),
    )
    return [
        Verdict(
            "C10",
            verdict,
            "; ".join(evidence),
            f"{where}; {outcome_text(results)}",
            NAME,
            PLOT,
            headline,
        )
    ]
