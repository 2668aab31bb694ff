"""C1, C2 and C11 from the scaling table: quantities and declarations for the engine.

At the largest p measured (points flagged oversubscribed never count), per kernel, any
backend of the kind deciding: C1 a process backend's speedup against half the ideal gain,
C11 a thread backend's speedup against 1 + threshold, C2 a thread backend's busy cores
against half the ideal gain. A parallel run short of cores, drifted or loaded can only have
been slowed (its speedup and busy cores lie low); its in-job serial baseline's flags work
the other way (a slowed baseline inflates the speedup).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from coresweep.analysis.verdicts import (
    cannot_test,
    is_processes,
    is_threads,
    rule,
    usable,
)
from coresweep.analysis.verdicts.engine import (
    LOWERS,
    RAISES,
    Case,
    Claim,
    Ratio,
    Words,
    case_key,
    disturbances,
    doubted,
    evaluate,
    stopped_note,
)
from coresweep.analysis.verdicts.record import Verdict

#: the figures the scaling claims cite (report.plots.scaling draws them)
SPEEDUP_PLOT, UTILIZATION_PLOT = "scaling_speedup.svg", "scaling_utilization.svg"
COMPUTE_KINDS = ("python", "nogil", "blas")
NAME = "scaling"
NONNEGATIVE = ("busy_cores",)
KEY = ("kernel", "backend", "mode")  # not p: the largest p differs by machine

Row = Mapping[str, Any]


def _top(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    t = usable(table)
    t = t[(t["mode"] == "strong") & t.speedup.notna()]
    pmax = int(t.p.max()) if not t.empty else 1
    return t[t.p == pmax], pmax


def _speedup_case(r: Row) -> Case:
    """A parallel point's speedup: its flags lower it, its baseline's raise it. The speedup
    is a median of per-round ratios (the arms sample together), so drift is weighed per
    round."""
    rounds = int(r["n"]) if pd.notna(r.get("n")) and r.get("n") else None
    moved = doubted(disturbances(r, LOWERS, paired_rounds=rounds), r, r["speedup_ci_lo"])
    moved += disturbances(r, RAISES, column="baseline_flags", who="serial baseline")
    beyond = r["speedup_ci_lo"] > r["p"] * 1.1
    return Case(
        str(r["kernel"]),
        case_key(r, KEY),
        float(r["speedup"]),
        float(r["speedup_ci_lo"]),
        float(r["speedup_ci_hi"]),
        moved,
        workers=int(r["p"]),
        label=str(r["backend"]),
        note=stopped_note(r),
        interpreter=str(r.get("interpreter") or ""),
        blocked=f"speedup above p={r['p']} (disturbed baseline)" if beyond else "",
    )


def _busy_case(r: Row) -> Case:
    """A thread point's busy cores (fine clock interval when the table has it): the machine
    short of cores lowers it; inner oversubscription raises it (more threads on the CPU).
    Drift moves nothing (C2 declares it so, see there)."""
    busy = float(r["busy_cores"])
    lo, hi = (r.get(c) for c in ("busy_cores_ci_lo", "busy_cores_ci_hi"))
    lo, hi = (busy, busy) if pd.isna(lo) or pd.isna(hi) else (float(lo), float(hi))
    return Case(
        str(r["kernel"]),
        case_key(r, KEY),
        busy,
        lo,
        hi,
        disturbances(r, LOWERS, oversubscribed=RAISES),
        workers=int(r["p"]),
        label=str(r["backend"]),
        note=stopped_note(r),
        interpreter=str(r.get("interpreter") or ""),
    )


def process_speedups(table: pd.DataFrame) -> list[Case]:
    top, _ = _top(table)
    procs = top[is_processes(top)]
    return [_speedup_case(r) for r in procs[procs.kind.isin(COMPUTE_KINDS)].to_dict("records")]


def thread_speedups(table: pd.DataFrame) -> list[Case]:
    top, _ = _top(table)
    return [_speedup_case(r) for r in top[is_threads(top)].to_dict("records")]


def thread_busy_cores(table: pd.DataFrame) -> list[Case]:
    top, _ = _top(table)
    thr = top[is_threads(top) & top.busy_cores.notna().to_numpy()]
    return [_busy_case(r) for r in thr.to_dict("records")]


def where(table: pd.DataFrame) -> str:
    _, pmax = _top(table)
    dropped = len(table) - len(usable(table))
    return f"strong scaling at p={pmax}" + (
        f" ({dropped} oversubscribed points not counted)" if dropped else ""
    )


C1 = Claim(
    "C1",
    process_speedups,
    Ratio(gain=0.5),
    Words(
        "processes ran faster than one",
        "processes short of half the ideal gain",
        "the kernel",
        symbol="S=",
    ),  # fmt: skip
    context=where,
    plot=SPEEDUP_PLOT,
)
#: busy cores are CPU time over wall time of the same samples: a drift of the machine's speed
#: moves both, and the time taken from the CPU, the one thing that lowers their ratio, is what
#: the capacity ledger measured during the point (other programs' and the hypervisor's share).
#: Seen on a 2-core EPYC VM: a 71% drift beside 0.995 [0.987, 0.996] busy cores and a ledger
#: of 1.97 of 2 cores delivered
C2 = Claim(
    "C2",
    thread_busy_cores,
    Ratio(gain=0.5, unit=" cores"),
    Words("busy", "busy", "the kernel", equal="one core busy"),
    disturbances=("capacity", "oversubscription", "flag"),
    context=where,
    plot=UTILIZATION_PLOT,
)
C11 = Claim(
    "C11",
    thread_speedups,
    Ratio(),
    Words(
        "threads ran faster than one",
        "threads not faster",
        "the kernel",
        equal="no faster",
        symbol="S=",
    ),  # fmt: skip
    context=where,
    plot=SPEEDUP_PLOT,
)
CLAIMS = (C1, C2, C11)


@rule(NAME, nonnegative=NONNEGATIVE)
def scaling_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C1, C2 and C11 from the scaling table."""
    _, pmax = _top(table)
    if pmax < 2:
        return cannot_test(
            [c.id for c in CLAIMS],
            "Needs ≥ 2 usable cores to run workers in parallel; this run measured only p=1.",
            f"{where(table)} on {machine}",
            NAME,
        )
    out = [evaluate(c, table, machine, threshold) for c in CLAIMS]
    return [v for v in out if v.cases]
