"""Verdict for C10 from the single-core table: throughput gain of many threads over one.

Threads are "effective" on one CPU for a kind of work when the throughput at the largest
thread count beats one thread by more than the difference threshold, with the whole
95% interval of the ratio above it.
"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import THRESHOLD, combine

NAME = "single_core"
PLOT = "single_core.svg"


def _gain(row: pd.Series) -> str:
    return f"{row.gain_vs_1:.2f}x [{row.gain_ci_lo:.2f}, {row.gain_ci_hi:.2f}]"


def single_core_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C10: supported if every kind gains, conditional if some do, refuted if none."""
    if table.empty:
        return []
    tmax = int(table.threads.max())
    top = table[table.threads == tmax].set_index("kind")
    one = table[table.threads == 1].set_index("kind")
    first = table.iloc[0]
    where = (
        f"pinned to CPU {int(first.cpu)} of {machine}; 1..{tmax} threads; {int(first.tasks)} "
        f"tasks per sample; I/O wait {first.io_ms:g} ms; CPU task = {int(first.cpu_samples)} "
        f"mc-python samples; effective = gain CI lower bound above {1 + THRESHOLD:.2f}"
    )
    if not table.pinned_ok.all():
        return [
            Verdict("C10", "inconclusive", "pool threads were not all pinned", where, NAME, PLOT)
        ]
    effective, evidence = {}, []
    for kind, row in top.iterrows():
        effective[str(kind)] = bool(row.gain_ci_lo > 1 + THRESHOLD)
        base = one.loc[kind]
        evidence.append(
            f"{kind}: {tmax} vs 1 threads {_gain(row)} ({base.throughput:.0f} -> "
            f"{row.throughput:.0f} tasks/s), per-task latency p50 {base.latency_p50_ms:.2f} -> "
            f"{row.latency_p50_ms:.2f} ms, p99 {base.latency_p99_ms:.1f} -> "
            f"{row.latency_p99_ms:.1f} ms"
        )
    holds = [k for k, v in effective.items() if v]
    fails = [k for k, v in effective.items() if not v]
    return [
        Verdict(
            "C10",
            combine(effective),
            "; ".join(evidence),
            f"{where}; holds for {holds or 'none'}, not for {fails or 'none'}",
            NAME,
            PLOT,
        )
    ]
