"""Verdict for C3 from the responsiveness table: probe latency under load vs its paired idle.

A mode keeps the application responsive when its latency rises above the idle latency
measured in the same job by less than one probe period: the probe still answers each
request before the next one arrives. Typical (p50) and tail (p99) latency are judged apart,
each with the intervals of both sides, so a noisy baseline gives "inconclusive", not a pass.
"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    AGAINST,
    FOR,
    NONE,
    Call,
    Side,
    all_of,
    check_table,
    combine,
    described,
    flags_of,
    holding,
    judge,
    open_reason,
    say,
    undecided,
    usable,
)

MIN_RATE_RATIO = 0.99
NAME = "responsiveness"
PLOT = "responsiveness.svg"
INTERVALS = (
    ("p50_ms", "p50_ci_lo_ms", "p50_ci_hi_ms"),
    ("p99_ms", "p99_ci_lo_ms", "p99_ci_hi_ms"),
)
NONNEGATIVE = ("p50_ms", "p50_ci_lo_ms", "p99_ms", "max_ms", "rate_ratio", "probe_period_ms")


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
        idle = g[g["mode"] != mode]  # the job's paired idle rows
        if busy.empty or idle.empty:
            continue
        gap = (busy.switch_interval_ms - busy.default_switch_interval_ms).abs()
        out[str(mode)] = (busy.loc[gap.idxmin()], idle.iloc[0])
    return out


def _gil_part(table: pd.DataFrame) -> str:
    """How the latency under GIL-bound thread backends follows the switch interval."""
    bound = table.backend_gil_bound.fillna(False).astype(bool)
    gil = table[(table.backend_isolation == "thread") & bound]
    modes = []
    for mode, g in gil.sort_values("switch_interval_ms").groupby("mode", sort=False):
        parts = [
            f"{r.switch_interval_ms:g} ms: p50 {r.p50_ms:.2f} / p99 {r.p99_ms:.1f}"
            for r in g.itertuples()
        ]
        modes.append(f"{mode} " + ", ".join(parts))
    return "; GIL switch interval -> latency: " + "; ".join(modes) if modes else ""


def _call(busy: pd.Series, idle: pd.Series, q: str, tol: float, mode: str) -> Call:
    """The interval decision unless a flag could flip it: contention raises the busy
    latency (a pass despite it stands) and the idle one (a fail despite it stands); a p99
    from few samples could go either way; a busy probe that fell behind is the outcome."""
    few = {
        f: NONE for r in (busy, idle) for f in flags_of(r.get("flags")) if f.startswith("p99-from")
    }
    few = few if q == "p50" else {}
    # the same decision as busy / (idle + tolerance) against 1: a drifted reference widens
    # it; a probe that fell behind was not decided from latencies, so drift is not excused
    interval = (
        (
            busy[f"{q}_ci_lo_ms"] / (idle[f"{q}_ci_hi_ms"] + tol),
            busy[f"{q}_ci_hi_ms"] / (idle[f"{q}_ci_lo_ms"] + tol),
            1.0,
        )
        if busy.rate_ratio >= MIN_RATE_RATIO
        else None
    )
    return judge(
        _judge(busy, idle, q, tol),
        Side(busy, AGAINST, who=mode, bias={"probe-fell-behind": NONE} | few),
        Side(idle, FOR, who="idle", bias=few),
        interval=interval,
    )


def responsiveness_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C3: do background threads leave the foreground responsive? Judged per thread mode."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    table = described(usable(table))
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
    modes: dict[str, bool | None] = {}
    every: list[Call] = []
    tails: dict[str, str] = {}
    evidence = []
    for mode, (busy, idle) in rows.items():
        counted = busy.backend_isolation == "thread"
        notes = ""
        if counted:
            calls = [_call(busy, idle, q, tol, mode) for q in ("p50", "p99")]
            every += calls
            results[f"{mode} p50"], results[f"{mode} p99"] = (c.value for c in calls)
            modes[mode] = all_of(c.value for c in calls)
            tails[mode] = f"p99 {busy.p99_ms:.3g} vs {idle.p99_ms:.3g} ms idle"
            notes = "".join(c.text() for c in calls)
        label = f"{mode} ({busy.kernel})" + ("" if counted else " [not counted: processes]")
        evidence.append(
            f"{label}: {_fmt(busy)}; idle {idle.p50_ms:.2f} / {idle.p99_ms:.2f} ms (p50/p99)"
            + notes
        )
    if not results:
        return [undecided("C3", "no thread mode measured", where, NAME, PLOT)]
    verdict = combine(results)

    def tail(v: bool | None) -> str:
        return "; ".join(tails[m] for m in holding(modes, v)[:1])

    headline = say(
        verdict,
        modes,
        yes=(
            f": the foreground stayed within {tol:g} ms of idle ({{which}}: {tail(True)})",
            f" for {{which}} ({tail(True)})",
        ),
        no=(
            f": background threads delayed the foreground beyond {tol:g} ms ({{which}}: "
            f"{tail(False)})",
            f" for {{which}} ({tail(False)}; tolerance {tol:g} ms)",
        ),
        open_=" for {which}",
        on="the work",
        reason=open_reason(
            every, f"the latency intervals straddle the {tol:g} ms tolerance, or idle misses it"
        ),
    )
    undecided_ = holding(results, None)
    return [
        Verdict(
            "C3",
            verdict,
            "; ".join(evidence) + _gil_part(table),
            f"{where}; holds for {holding(results, True) or 'none'}; fails for "
            f"{holding(results, False) or 'none'}"
            + (
                f"; undecided (an interval straddles the tolerance, the idle baseline misses "
                f"it, or a flag could flip it): {undecided_}"
                if undecided_
                else ""
            ),
            NAME,
            PLOT,
            headline,
        )
    ]
