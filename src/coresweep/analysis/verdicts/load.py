"""Verdict for C13 from the load table: do processes keep up at peak load where threads don't?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdicts import (
    cannot_test,
    is_processes,
    is_threads,
    ratio_interval,
    rule,
    undecided,
    usable,
)
from coresweep.analysis.verdicts.engine import (
    LOWERS,
    RAISES,
    Case,
    Claim,
    Ratio,
    Words,
    _finite,
    case_key,
    disturbances,
    doubted,
    evaluate,
    stopped_note,
)
from coresweep.analysis.verdicts.record import Verdict
from coresweep.flags import Flag

NAME = "load"
PLOT = "load_latency.svg"
INTERVALS = (
    ("throughput", "throughput_ci_lo", "throughput_ci_hi"),
    ("latency_p99", "latency_p99_ci_lo", "latency_p99_ci_hi"),
)
NONNEGATIVE = ("throughput", "throughput_ci_lo", "latency_p50", "latency_p99", "load", "service_s")
#: requests left at the drain deadline are what overload looks like, counted in the
#: conditions; a p99 from few requests does not touch the throughput that decides; late
#: arrivals can only slow a pool
KINDS = {Flag.UNFINISHED_REQUESTS: None, Flag.P99_FEW_REQUESTS: None, Flag.ARRIVALS_LATE: "slow"}


def kinds_of(row: pd.Series) -> dict[Flag, str | None]:
    """KINDS, and arrivals-late excused where the pool saturated anyway: late arrivals lower
    a pool's throughput only while they keep its offered rate below what it serves. Even
    all requests delayed by the p99 submit lag arrive faster than the throughput's upper
    bound: the backlog, not the submitter, set the pace."""
    n, rate, lag = (row.get(c) for c in ("requests", "offered_rate", "submit_lag_p99"))
    if not all(_finite(x) for x in (n, rate, lag)) or not rate:
        return KINDS
    late = n / (n / rate + lag)
    return KINDS | ({Flag.ARRIVALS_LATE: None} if late > row.throughput_ci_hi else {})


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


def _tail(g: pd.DataFrame, peak: float) -> str:
    threads, procs = g[is_threads(g)], g[is_processes(g)]
    t_at, q_at = threads[threads.load == peak], procs[procs.load == peak]
    if t_at.empty or q_at.empty:
        return ""
    t, q = t_at.iloc[0], q_at.iloc[0]
    return (
        f"; at load {peak:g}: p99 threads {_ms(t.latency_p99)} vs processes "
        f"{_ms(q.latency_p99)}, p50 {_ms(t.latency_p50)} vs {_ms(q.latency_p50)}"
    )


def saturation_ratios(table: pd.DataFrame) -> list[Case]:
    """Per kernel: the process pool's saturation throughput over the thread pool's, with
    the widest ratio both intervals allow. A slowed process pool lowers it, a slowed thread
    pool raises it; a process pool that served more than the probe's cores' worth proves
    the probe wrong."""
    t = usable(table)
    peak = peak_load(t)
    cases = []
    for kernel, g in t.groupby("kernel", sort=False):
        if not (is_threads(g).any() and is_processes(g).any()):
            continue
        thr, proc = saturation(g[is_threads(g)]), saturation(g[is_processes(g)])
        r, lo, hi = ratio_interval(
            (proc.throughput, proc.throughput_ci_lo, proc.throughput_ci_hi),
            (thr.throughput, thr.throughput_ci_lo, thr.throughput_ci_hi),
        )
        cap = proc.get("capacity_per_core")
        achieved = proc.throughput_ci_lo / cap if cap else None
        moved = doubted(
            disturbances(proc, LOWERS, who="processes", kinds=kinds_of(proc)), proc, achieved
        ) + disturbances(thr, RAISES, who="threads", kinds=kinds_of(thr))
        label = (
            f"({g.kind.iloc[0]}, {_ms(g.service_s.iloc[0])} requests) saturation threads "
            f"{_thr(thr)}, {proc.backend} {_thr(proc)}{_tail(g, peak)}; processes/threads"
        )
        cases.append(Case(str(kernel), case_key(proc, ("kernel",)), r, lo, hi, moved,
                          label=label, note=stopped_note(proc)))  # fmt: skip
    return cases


def _where(table: pd.DataFrame) -> str:
    t = usable(table)
    p = int(t.p.max()) if not t.empty else 1
    loads = ", ".join(f"{x:g}" for x in sorted(t.load.unique()))
    unfinished = int(t.unfinished.sum()) if "unfinished" in t else 0
    return f"p={p} workers; open-loop arrivals at {loads} x one core's capacity" + (
        f"; {unfinished} requests unfinished at the drain deadline" if unfinished else ""
    )


C13 = Claim(
    "C13",
    saturation_ratios,
    Ratio(),
    Words("processes/threads throughput", "processes/threads throughput", "the kernel"),
    disturbances=("capacity", "drift", "oversubscription", "slow", "flag"),
    context=_where,
    plot=PLOT,
)
CLAIMS = (C13,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def load_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C13: supported where the process pool's saturation throughput beats the thread pool's."""
    p = int(usable(table).p.max()) if not usable(table).empty else 1
    where = f"{_where(table)} on {machine}"
    if p < 2:
        reason = f"Needs ≥ 2 usable cores for processes to outrun threads; this run had p={p}."
        return cannot_test(["C13"], reason, where, NAME, (PLOT,))
    if not saturation_ratios(table):
        return [undecided("C13", "a thread or a process pool is missing", where, NAME, (PLOT,))]
    return [evaluate(C13, table, machine, threshold)]
