"""Verdict for C13 from the load table: do processes keep up at peak load where threads don't?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    AGAINST,
    FOR,
    NONE,
    THRESHOLD,
    Call,
    Side,
    _finite,
    cannot_test,
    check_table,
    combine,
    decide,
    is_processes,
    is_threads,
    open_reason,
    outcome_text,
    ratio_interval,
    say,
    undecided,
    usable,
)

NAME = "load"
PLOT = "load_latency.svg"
INTERVALS = (
    ("throughput", "throughput_ci_lo", "throughput_ci_hi"),
    ("latency_p99", "latency_p99_ci_lo", "latency_p99_ci_hi"),
)
NONNEGATIVE = ("throughput", "throughput_ci_lo", "latency_p50", "latency_p99", "load", "service_s")
#: requests left at the drain deadline are what overload looks like, counted in the
#: conditions; a p99 from few requests does not touch the throughput that decides
BIAS = {"unfinished-requests": NONE, "p99-from-<100-requests": NONE}


def bias_of(row: pd.Series) -> dict[str, str]:
    """BIAS, and arrivals-late excused where the pool saturated anyway: late arrivals lower
    a pool's throughput only while they keep its offered rate below what it serves. Even
    all requests delayed by the p99 submit lag arrive faster than the throughput's upper
    bound: the backlog, not the submitter, set the pace."""
    n, rate, lag = (row.get(c) for c in ("requests", "offered_rate", "submit_lag_p99"))
    if not all(_finite(x) for x in (n, rate, lag)) or not rate:
        return BIAS
    late = n / (n / rate + lag)
    return BIAS | ({"arrivals-late": NONE} if late > row.throughput_ci_hi else {})


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


def kernel_outcome(g: pd.DataFrame, peak: float) -> tuple[Call, float, str]:
    """Processes beat threads when their saturation throughput is higher by more than the
    threshold beyond both intervals; not when even the widest ratio stays below. Contention
    slows the process pool (a win despite it stands) and, if anything, the thread pool the
    other way."""
    threads, procs = g[is_threads(g)], g[is_processes(g)]
    thr, proc = saturation(threads), saturation(procs)
    r, lo, hi = ratio_interval(
        (proc.throughput, proc.throughput_ci_lo, proc.throughput_ci_hi),
        (thr.throughput, thr.throughput_ci_lo, thr.throughput_ci_hi),
    )
    cap = proc.get("capacity_per_core")
    call = decide(
        lo,
        hi,
        1 + THRESHOLD,
        Side(
            proc,
            AGAINST,
            proc.throughput_ci_lo / cap if cap else None,
            who="processes",
            bias=bias_of(proc),
        ),
        Side(thr, FOR, who="threads", bias=bias_of(thr)),
    )
    tail = ""
    t_at, q_at = threads[threads.load == peak], procs[procs.load == peak]
    if not t_at.empty and not q_at.empty:
        t, q = t_at.iloc[0], q_at.iloc[0]
        tail = (
            f"; at load {peak:g}: p99 threads {_ms(t.latency_p99)} vs processes "
            f"{_ms(q.latency_p99)}, p50 {_ms(t.latency_p50)} vs {_ms(q.latency_p50)}"
        )
    kernel = g.kernel.iloc[0]
    text = (
        f"{kernel} ({g.kind.iloc[0]}, {_ms(g.service_s.iloc[0])} requests): saturation "
        f"threads {_thr(thr)}, {proc.backend} {_thr(proc)}: processes/threads {r:.2f}x "
        f"[{lo:.2f}, {hi:.2f}]{call.text()}{tail}"
    )
    return call, r, text


def load_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C13: supported where the process pool's saturation throughput beats the thread pool's."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    table = usable(table)
    p = int(table.p.max()) if not table.empty else 1
    loads = ", ".join(f"{x:g}" for x in sorted(table.load.unique()))
    where = (
        f"p={p} workers on {machine}; open-loop arrivals at {loads} x one core's capacity; "
        f"processes better = saturation throughput ratio interval above {1 + THRESHOLD:.2f}, "
        "not = below it"
    )
    if p < 2:
        reason = f"Needs ≥ 2 usable cores for processes to outrun threads; this run had p={p}."
        return cannot_test(["C13"], reason, where, NAME, PLOT)
    peak = peak_load(table)
    calls: dict[str, Call] = {}
    ratios: dict[str, float] = {}
    evidence = []
    for kernel, g in table.groupby("kernel", sort=False):
        if not (is_threads(g).any() and is_processes(g).any()):
            continue
        calls[str(kernel)], ratios[str(kernel)], text = kernel_outcome(g, peak)
        evidence.append(text)
    results = {k: c.value for k, c in calls.items()}
    if not results:
        return [undecided("C13", "a thread or a process pool is missing", where, NAME, PLOT)]
    unfinished = int(table.unfinished.sum())
    conditions = f"{where}; {outcome_text(results)}" + (
        f"; {unfinished} requests unfinished at the drain deadline" if unfinished else ""
    )
    verdict = combine(results)

    headline = say(
        verdict,
        results,
        numbers=ratios,
        yes=(
            f": at peak load {p} processes served {{span}}× the requests/s of {p} threads "
            "({which})",
            " for {which} (processes {span}× the threads' throughput)",
        ),
        no=(
            f": at peak load {p} processes served {{span}}× the requests/s of {p} threads "
            "({which})",
            " for {which} ({span}×)",
        ),
        open_=" for {which}",
        on="the kernel",
        reason=open_reason(
            calls.values(), "the saturation throughputs' ratio interval straddles the threshold"
        ),
    )
    return [Verdict("C13", verdict, "; ".join(evidence), conditions, NAME, PLOT, headline)]
