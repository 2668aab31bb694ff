"""Verdict for C7 from the context-switch table: thread vs process handoff cost.

Per pin mode, the fastest thread mechanism is compared with the fastest process
mechanism by the ratio of their median times, with a bootstrap interval. Threads are
"quicker" when the whole interval of process/thread lies above 1 + threshold; "not
quicker" when it lies below 1 + threshold; undecided otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coresweep.analysis.stats import ratio_ci
from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import THRESHOLD, combine_undecided

NAME = "context_switch"
PLOT = "context_switch.svg"


def _us(row: pd.Series) -> str:
    return f"{row.mechanism} {row.us_per_switch:.2f} [{row.us_ci_lo:.2f}, {row.us_ci_hi:.2f}] µs"


def _ctx(row: pd.Series) -> str:
    return (
        f"{row.mechanism}: {row.voluntary_per_round_trip:.2f} vol + "
        f"{row.involuntary_per_round_trip:.2f} invol"
    )


def _compare(g: pd.DataFrame) -> tuple[bool | None, str]:
    """Threads quicker than processes in this pin mode? Best vs best, with the ratio's CI."""
    thr = g[g.party == "thread"]
    proc = g[g.party == "process"]
    if thr.empty or proc.empty:
        return None, "needs a thread and a process mechanism"
    t = thr.loc[thr.us_per_switch.idxmin()]
    p = proc.loc[proc.us_per_switch.idxmin()]
    r, lo, hi = ratio_ci(np.asarray(p.wall_samples), np.asarray(t.wall_samples))
    if lo > 1 + THRESHOLD:
        quicker: bool | None = True
    elif hi < 1 + THRESHOLD:
        quicker = False
    else:
        quicker = None
    same = ""
    pipes = g.set_index("mechanism")
    if {"thread-pipe", "process-pipe"} <= set(pipes.index):
        same = (
            f"; same os.pipe: thread {pipes.loc['thread-pipe'].us_per_switch:.2f} vs process "
            f"{pipes.loc['process-pipe'].us_per_switch:.2f} µs"
        )
    text = (
        f"best thread {_us(t)} vs best process {_us(p)}: process/thread = {r:.2f} "
        f"[{lo:.2f}, {hi:.2f}]{same}; OS switches per round trip: "
        + ", ".join(_ctx(row) for _, row in g.iterrows())
    )
    return quicker, text


def context_switch_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C7: supported if threads switch quicker pinned and unpinned, conditional if in one."""
    if table.empty:
        return []
    results: dict[str, bool | None] = {}
    evidence = []
    for pin, g in table.groupby("pin"):
        quicker, text = _compare(g)
        results[str(pin)] = quicker
        evidence.append(f"{pin} (CPUs {g.cpus.iloc[0]}): {text}")
    undecided = [k for k, v in results.items() if v is None]
    rtt = int(table.round_trips_per_call.iloc[0])
    where = (
        f"{machine}; µs per switch = round trip / 2, {rtt} round trips per call; threads hand "
        "off through the GIL as well as the OS; quicker = process/thread time ratio CI above "
        f"{1 + THRESHOLD:.2f}; threads quicker in {[k for k, v in results.items() if v] or 'none'}"
        + (f"; undecided in {undecided}" if undecided else "")
    )
    return [Verdict("C7", combine_undecided(results), "; ".join(evidence), where, NAME, PLOT)]
