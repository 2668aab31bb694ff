"""Verdict for C3 from the responsiveness table: probe latency under load vs its paired idle.

A mode keeps the application responsive when its latency rises above the idle latency
measured in the same job by less than one probe period: the probe still answers each
request before the next one arrives. Typical (p50) and tail (p99) latency are judged apart,
each with the intervals of both sides, so a noisy baseline gives "inconclusive", not a pass.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from coresweep.analysis.verdicts import described, rule, undecided, usable
from coresweep.analysis.verdicts.engine import (
    LOWERS,
    NO,
    RAISES,
    Case,
    Claim,
    Ratio,
    Words,
    case_key,
    disturbances,
    evaluate,
)
from coresweep.analysis.verdicts.record import Verdict
from coresweep.flags import Flag

MIN_RATE_RATIO = 0.99
NAME = "responsiveness"
PLOT = "responsiveness.svg"
INTERVALS = (
    ("p50_ms", "p50_ci_lo_ms", "p50_ci_hi_ms"),
    ("p99_ms", "p99_ci_lo_ms", "p99_ci_hi_ms"),
)
NONNEGATIVE = ("p50_ms", "p50_ci_lo_ms", "p99_ms", "max_ms", "rate_ratio", "probe_period_ms")


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


def _kinds(row: pd.Series, q: str) -> dict[Flag, str | None]:
    """A probe that fell behind is the outcome; a p99 from few samples moves only the p99."""
    return {Flag.PROBE_FELL_BEHIND: None} | ({Flag.P99_FEW_SAMPLES: None} if q == "p50" else {})


def latency_ratios(table: pd.DataFrame) -> list[Case]:
    """Per thread mode at the default switch interval, p50 and p99: busy latency over idle
    latency plus one probe period (the widest ratio both intervals allow); responsive when
    it stays below 1. Contention raises the busy latency (the ratio) and the idle one (it
    lowers the ratio). A probe that answered < 99% of requests fell behind: a stated "no"."""
    t = described(usable(table))
    cases = []
    for mode, (busy, idle) in _default_rows(t).items():
        if busy.backend_isolation != "thread":
            continue
        tol = float(busy.probe_period_ms)
        for q in ("p50", "p99"):
            lo = busy[f"{q}_ci_lo_ms"] / (idle[f"{q}_ci_hi_ms"] + tol)
            hi = busy[f"{q}_ci_hi_ms"] / (idle[f"{q}_ci_lo_ms"] + tol)
            est = busy[f"{q}_ms"] / (idle[f"{q}_ms"] + tol)
            moved = disturbances(busy, RAISES, who=mode, kinds=_kinds(busy, q)) + disturbances(
                idle, LOWERS, who="idle", kinds=_kinds(idle, q)
            )
            # fell behind: a stated "no", unless the latencies decide it on their own
            behind = busy.rate_ratio < MIN_RATE_RATIO and not lo > 1
            blind = idle[f"{q}_ci_lo_ms"] > tol
            cases.append(
                Case(
                    str(mode),
                    case_key({"mode": mode, "quantile": q}, ("mode", "quantile")),
                    float(est),
                    float(lo),
                    float(hi),
                    moved,
                    label=f"{q} {busy[f'{q}_ms']:.3g} vs {idle[f'{q}_ms']:.3g} ms idle + {tol:g}",
                    fact=NO if behind else "",
                    note=f"the probe answered {busy.rate_ratio:.1%} of requests" if behind else "",
                    blocked=f"the idle {q} misses the {tol:g} ms tolerance itself" if blind else "",
                )
            )
    return cases


def _where(table: pd.DataFrame) -> str:
    rows = _default_rows(described(usable(table)))
    r = next(iter(rows.values()))[0] if rows else table.iloc[0]
    tol = float(r.probe_period_ms)
    return (
        f"{int(r.workers)} background workers (= granted cores); probe every {tol:g} ms; "
        f"switch interval {r.switch_interval_ms:g} ms (default "
        f"{r.default_switch_interval_ms:g}); responsive = latency within one probe period "
        f"({tol:g} ms) of the idle latency measured in the same job, and >= 99% of requests "
        "answered"
    )


C3 = Claim(
    "C3",
    latency_ratios,
    Ratio(margin=0.0, below=True),
    Words("busy/(idle+period)", "busy/(idle+period)", "the work"),
    band=0.0,
    over="all",
    context=_where,
    plot=PLOT,
)
CLAIMS = (C3,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def responsiveness_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C3: do background threads leave the foreground responsive? Judged per thread mode."""
    if not latency_ratios(table):
        where = f"{_where(table)} on {machine}"
        return [undecided("C3", "no thread mode measured", where, NAME, (PLOT,))]
    v = evaluate(C3, table, machine, threshold)
    t = described(usable(table))
    lines = []
    for mode, (busy, idle) in _default_rows(t).items():
        counted = "" if busy.backend_isolation == "thread" else " [not counted: processes]"
        lines.append(
            f"{mode} ({busy.kernel}){counted}: {_fmt(busy)}; idle {idle.p50_ms:.2f} / "
            f"{idle.p99_ms:.2f} ms (p50/p99)"
        )
    return [replace(v, evidence="; ".join([v.evidence, *lines]) + _gil_part(t))]
