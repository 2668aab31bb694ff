"""Verdict for C10 from the single-core table: throughput gain of many threads over one.

Threads are "effective" on one CPU for a kind of work when the whole 95% interval of the
throughput ratio (largest thread count over one thread) lies above 1 + threshold, and not
effective when it lies below.
"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdicts import cannot_test, rule, usable
from coresweep.analysis.verdicts.engine import (
    LOWERS,
    RAISES,
    Case,
    Claim,
    Ratio,
    Words,
    case_key,
    disturbances,
    evaluate,
    paired_rounds,
    stopped_note,
)
from coresweep.analysis.verdicts.record import Verdict

NAME = "single_core"
PLOT = "single_core.svg"
INTERVALS = (
    ("gain_vs_1", "gain_ci_lo", "gain_ci_hi"),
    ("throughput", "throughput_ci_lo", "throughput_ci_hi"),
)
NONNEGATIVE = ("gain_vs_1", "gain_ci_lo", "throughput", "latency_p50_ms", "latency_p99_ms")


def _ends(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    table = usable(table)
    tmax = int(table.threads.max())
    top = table[table.threads == tmax].set_index("kind", drop=False)
    return top, table[table.threads == 1].set_index("kind", drop=False), tmax


def throughput_gains(table: pd.DataFrame) -> list[Case]:
    """Per kind of work: throughput of the most threads over one thread's, pinned to one
    CPU. A slowed many-thread arm lowers the gain, a slowed one-thread arm raises it; the
    capacity probe is of the pinned CPU. Both arms come from one point, sampled in the same
    rounds: its drift counts per round (`paired_rounds`)."""
    top, one, tmax = _ends(table)
    cases = []
    for kind, row in top.iterrows():
        base = one.loc[kind]
        rounds = paired_rounds(row, base)
        moved = disturbances(row, LOWERS, who=f"{tmax} threads", paired_rounds=rounds) + (
            disturbances(base, RAISES, who="1 thread", paired_rounds=rounds)
        )
        label = (
            f"{tmax} vs 1 threads ({base.throughput:.0f} -> {row.throughput:.0f} tasks/s, "
            f"latency p50 {base.latency_p50_ms:.2f} -> {row.latency_p50_ms:.2f} ms, p99 "
            f"{base.latency_p99_ms:.1f} -> {row.latency_p99_ms:.1f} ms)"
        )
        cases.append(Case(str(kind), case_key(row, ("kind",)), float(row.gain_vs_1),
                          float(row.gain_ci_lo), float(row.gain_ci_hi), moved, label=label,
                          note=stopped_note(row)))  # fmt: skip
    return cases


def _where(table: pd.DataFrame) -> str:
    first, tmax = table.iloc[0], int(table.threads.max())
    return (
        f"pinned to CPU {int(first.cpu)}; 1..{tmax} threads; {int(first.tasks)} tasks per "
        f"sample; I/O wait {first.io_ms:g} ms; CPU task = {int(first.cpu_samples)} mc-python "
        "samples"
    )


C10 = Claim(
    "C10",
    throughput_gains,
    Ratio(),
    Words(
        "throughput over one thread's",
        "no more than one thread",
        "the kind of work",
        equal="as much as one thread",
    ),  # fmt: skip
    context=_where,
    plot=PLOT,
)
CLAIMS = (C10,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def single_core_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C10: supported if every kind gains, conditional if some do, refuted if none."""
    if not usable(table).pinned_ok.all():
        reason = "Needs the threads pinned to one CPU; this machine did not allow the pinning."
        return cannot_test(["C10"], reason, f"{_where(table)} on {machine}", NAME, (PLOT,))
    return [evaluate(C10, table, machine, threshold)]
