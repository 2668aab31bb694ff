"""Verdict for C3 from the responsiveness table: probe latency under load vs its paired idle.

A mode keeps the application responsive when its latency rises above the idle latency
measured in the same job by less than one probe period: the probe still answers each
request before the next one arrives. Typical (p50) and tail (p99) latency are judged apart,
each with the intervals of both sides, so a noisy baseline gives "inconclusive", not a pass.
"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import combine_undecided
from coresweep.experiments.responsiveness import IDLE

THREAD_MODES = ("threads-python", "threads-numba")
MIN_RATE_RATIO = 0.99
PLOT = "responsiveness.svg"


def _judge(row: pd.Series, idle: pd.Series, q: str, tol: float) -> bool | None:
    """True if even the largest excess over idle the intervals allow is within tolerance,
    False if even the smallest exceeds it, None otherwise; None too when the idle baseline
    itself misses the tolerance (a machine that busy cannot show the difference)."""
    if idle[f"{q}_ci_lo_ms"] > tol:
        return None
    if row.rate_ratio < MIN_RATE_RATIO:
        return False
    if row[f"{q}_ci_hi_ms"] - idle[f"{q}_ci_lo_ms"] <= tol:
        return True
    if row[f"{q}_ci_lo_ms"] - idle[f"{q}_ci_hi_ms"] > tol:
        return False
    return None


def _fmt(row: pd.Series) -> str:
    return (
        f"p50 {row.p50_ms:.2f} [{row.p50_ci_lo_ms:.2f}, {row.p50_ci_hi_ms:.2f}] ms, "
        f"p99 {row.p99_ms:.2f} [{row.p99_ci_lo_ms:.2f}, {row.p99_ci_hi_ms:.2f}] ms, "
        f"max {row.max_ms:.1f} ms, rate {100 * row.rate_ratio:.1f}% of offered"
    )


def _default_rows(table: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Per background mode: its row at (or nearest) the default switch interval, and the
    idle row of the same job."""
    out = {}
    for mode, g in table.groupby("paired_with"):
        busy = g[g["mode"] == mode]
        idle = g[g["mode"] == IDLE]
        if busy.empty or idle.empty:
            continue
        gap = (busy.switch_interval_ms - busy.default_switch_interval_ms).abs()
        out[str(mode)] = (busy.loc[gap.idxmin()], idle.iloc[0])
    return out


def _gil_part(table: pd.DataFrame) -> str:
    """How GIL-holding threads' latency follows the switch interval."""
    g = table[table["mode"] == "threads-python"].sort_values("switch_interval_ms")
    if g.empty:
        return ""
    parts = [
        f"{r.switch_interval_ms:g} ms: p50 {r.p50_ms:.2f} / p99 {r.p99_ms:.1f}"
        for r in g.itertuples()
    ]
    return "; GIL switch interval -> threads-python latency: " + ", ".join(parts)


def responsiveness_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C3: do background threads leave the foreground responsive? Judged per thread mode."""
    if table.empty:
        return []
    rows = _default_rows(table)
    any_row = next(iter(rows.values()))[0] if rows else table.iloc[0]
    tol = float(any_row.probe_period_ms)
    where = (
        f"{int(any_row.workers)} background workers (= granted cores) on {machine}; probe every "
        f"{tol:g} ms; switch interval {any_row.switch_interval_ms:g} ms (default "
        f"{any_row.default_switch_interval_ms:g}); "
        f"responsive = latency within one probe period ({tol:g} ms) of the idle latency "
        "measured in the same job, and >= 99% of requests answered"
    )
    results: dict[str, bool | None] = {}
    evidence = []
    for mode, (busy, idle) in rows.items():
        counted = mode in THREAD_MODES
        if counted:
            results[f"{mode} p50"] = _judge(busy, idle, "p50", tol)
            results[f"{mode} p99"] = _judge(busy, idle, "p99", tol)
        label = f"{mode} ({busy.kernel})" + ("" if counted else " [not counted: processes]")
        evidence.append(
            f"{label}: {_fmt(busy)}; idle {idle.p50_ms:.2f} / {idle.p99_ms:.2f} ms (p50/p99)"
        )
    if not results:
        return [Verdict("C3", "inconclusive", "no thread mode measured", where, "responsiveness")]
    undecided = [k for k, v in results.items() if v is None]
    holds = [k for k, v in results.items() if v]
    fails = [k for k, v in results.items() if v is False]
    return [
        Verdict(
            "C3",
            combine_undecided(results),
            "; ".join(evidence) + _gil_part(table),
            f"{where}; holds for {holds or 'none'}; fails for {fails or 'none'}"
            + (
                f"; undecided (an interval straddles the tolerance, or the idle baseline "
                f"misses it): {undecided}"
                if undecided
                else ""
            ),
            "responsiveness",
            PLOT,
        )
    ]
