"""Verdict for C7 from the context-switch table: thread vs process handoff cost.

Per pin mode, the fastest thread mechanism is compared with the fastest process
mechanism by the ratio of their median times, with a bootstrap interval. Threads are
"quicker" when the whole interval of process/thread lies above 1 + threshold; "not
quicker" when it lies below 1 + threshold; undecided otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    DRIFT,
    NONE,
    THRESHOLD,
    Call,
    Side,
    check_table,
    combine,
    decide,
    holding,
    open_reason,
    say,
    usable,
)
from coresweep.stats import paired_ratio_ci

NAME = "context_switch"
PLOT = "context_switch.svg"
INTERVALS = (("us_per_switch", "us_ci_lo", "us_ci_hi"),)
NONNEGATIVE = ("us_per_switch", "us_ci_lo")


def _us(row: pd.Series) -> str:
    return f"{row.mechanism} {row.us_per_switch:.2f} [{row.us_ci_lo:.2f}, {row.us_ci_hi:.2f}] µs"


def _ctx(row: pd.Series) -> str:
    return (
        f"{row.mechanism}: {row.voluntary_per_round_trip:.2f} vol + "
        f"{row.involuntary_per_round_trip:.2f} invol"
    )


def _compare(g: pd.DataFrame) -> tuple[Call, float, str]:
    """Threads quicker than processes in this pin mode? Best vs best, with the ratio's CI."""
    thr = g[g.party == "thread"]
    proc = g[g.party == "process"]
    if thr.empty or proc.empty:
        return Call(None, "needs a thread and a process mechanism"), math.nan, ""
    t = thr.loc[thr.us_per_switch.idxmin()]
    p = proc.loc[proc.us_per_switch.idxmin()]
    r, lo, hi = paired_ratio_ci(np.asarray(p.wall_samples), np.asarray(t.wall_samples))
    # the arms share their rounds and the ratio is taken round by round: a change of the
    # machine's speed between rounds (reference drift) cancels in it
    paired = {DRIFT: NONE}
    call = decide(
        lo,
        hi,
        1 + THRESHOLD,
        Side(t, who=t.mechanism, bias=paired),
        Side(p, who=p.mechanism, bias=paired),
    )
    same = ""
    pipes = g.set_index("mechanism")
    if {"thread-pipe", "process-pipe"} <= set(pipes.index):
        same = (
            f"; same os.pipe: thread {pipes.loc['thread-pipe'].us_per_switch:.2f} vs process "
            f"{pipes.loc['process-pipe'].us_per_switch:.2f} µs"
        )
    text = (
        f"best thread {_us(t)} vs best process {_us(p)}: process/thread = {r:.2f} "
        f"[{lo:.2f}, {hi:.2f}]{call.text()}{same}; OS switches per round trip: "
        + ", ".join(_ctx(row) for _, row in g.iterrows())
    )
    return call, r, text


def context_switch_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C7: supported if threads switch quicker pinned and unpinned, conditional if in one."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    table = usable(table)
    calls: dict[str, Call] = {}
    ratios: dict[str, float] = {}
    evidence = []
    for pin, g in table.groupby("pin"):
        calls[str(pin)], ratios[str(pin)], text = _compare(g)
        evidence.append(f"{pin} (CPUs {g.cpus.iloc[0]}): {text or calls[str(pin)].why}")
    results = {k: c.value for k, c in calls.items()}
    rtt = int(table.round_trips_per_call.iloc[0])
    where = (
        f"{machine}; µs per switch = round trip / 2, {rtt} round trips per call; threads hand "
        "off through the GIL as well as the OS; quicker = process/thread time ratio CI above "
        f"{1 + THRESHOLD:.2f}; threads quicker in {holding(results, True) or 'none'}"
        + (f"; undecided in {holding(results, None)}" if None in results.values() else "")
    )
    verdict = combine(results)

    headline = say(
        verdict,
        results,
        numbers=ratios,
        yes=(
            ": threads handed off {span}× quicker than processes ({which})",
            " {which} (threads {span}× quicker)",
        ),
        no=(
            ": processes handed off as quickly ({which}: process/thread {span}×)",
            " {which} (process/thread {span}×)",
        ),
        open_=" {which}",
        on="pinning",
        reason=open_reason(
            calls.values(), "the process/thread time ratio interval straddles the threshold"
        ),
    )
    return [Verdict("C7", verdict, "; ".join(evidence), where, NAME, PLOT, headline)]
