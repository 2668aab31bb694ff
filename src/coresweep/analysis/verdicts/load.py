"""Verdict for C13 from the load table: do processes keep up at peak load where threads don't?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import THRESHOLD, combine

PLOT = "load_latency.svg"


def saturation(g: pd.DataFrame) -> pd.Series:
    """The level with the highest throughput: the pool's saturation throughput."""
    return g.loc[g.throughput.idxmax()]


def peak_load(table: pd.DataFrame) -> float:
    """The highest offered load the pool's p cores could serve in principle (load <= p)."""
    p = int(table.p.max())
    within = table.load[table.load <= p]
    return float(within.max() if not within.empty else table.load.min())


def _thr(row: pd.Series) -> str:
    return (
        f"{row.throughput:.0f} req/s [{row.throughput_ci_lo:.0f}, {row.throughput_ci_hi:.0f}]"
        f" = {row.throughput_cores:.2f} cores"
    )


def _ms(x: float) -> str:
    return f"{x * 1e3:.3g} ms"


def kernel_outcome(g: pd.DataFrame, peak: float) -> tuple[bool, str]:
    """Processes beat threads when their saturation throughput is higher beyond both intervals."""
    thr = saturation(g[g.executor == "threads"])
    proc = saturation(g[g.executor == "processes"])
    better = (
        proc.throughput_ci_lo > thr.throughput_ci_hi
        and proc.throughput > (1 + THRESHOLD) * thr.throughput
    )
    at = g[g.load == peak].set_index("executor")
    tail = ""
    if {"threads", "processes"} <= set(at.index):
        t, q = at.loc["threads"], at.loc["processes"]
        tail = (
            f"; at load {peak:g}: p99 threads {_ms(t.latency_p99)} vs processes "
            f"{_ms(q.latency_p99)}, p50 {_ms(t.latency_p50)} vs {_ms(q.latency_p50)}"
        )
    kernel = g.kernel.iloc[0]
    text = (
        f"{kernel} ({g.kind.iloc[0]}, {_ms(g.service_s.iloc[0])} requests): saturation "
        f"threads {_thr(thr)}, {proc.backend} {_thr(proc)}{tail}"
    )
    return bool(better), text


def load_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C13: supported where the process pool's saturation throughput beats the thread pool's."""
    if table.empty:
        return []
    p = int(table.p.max())
    peak = peak_load(table)
    loads = ", ".join(f"{x:g}" for x in sorted(table.load.unique()))
    where = (
        f"p={p} workers on {machine}; open-loop arrivals at {loads} x one core's capacity; "
        f"processes better = saturation throughput higher beyond both 95% intervals and by "
        f"> {THRESHOLD:.0%}"
    )
    if p < 2:
        return [Verdict("C13", "inconclusive", "fewer than 2 cores measured", where, "load", PLOT)]
    outcomes, evidence = {}, []
    for kernel, g in table.groupby("kernel", sort=False):
        if set(g.executor) != {"threads", "processes"}:
            continue
        outcomes[kernel], text = kernel_outcome(g, peak)
        evidence.append(text)
    if not outcomes:
        return [Verdict("C13", "inconclusive", "threads or processes missing", where, "load", PLOT)]
    kinds = table.drop_duplicates("kernel").set_index("kernel").kind
    holds = [f"{k} ({kinds[k]})" for k, v in outcomes.items() if v]
    fails = [f"{k} ({kinds[k]})" for k, v in outcomes.items() if not v]
    unfinished = int(table.unfinished.sum())
    conditions = f"{where}; holds for {holds or 'none'}, not for {fails or 'none'}" + (
        f"; {unfinished} requests unfinished at the drain deadline" if unfinished else ""
    )
    return [Verdict("C13", combine(outcomes), "; ".join(evidence), conditions, "load", PLOT)]
