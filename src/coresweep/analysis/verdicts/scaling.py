"""Verdicts for C1, C2 and C11 from the scaling table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import THRESHOLD, combine_undecided

COMPUTE_KINDS = ("python", "nogil", "blas")


def _fmt(row: Mapping[str, Any]) -> str:
    return f"S={row['speedup']:.2f} [{row['speedup_ci_lo']:.2f}, {row['speedup_ci_hi']:.2f}]"


def _sample_doubts(flags: object) -> str:
    """The flags that doubt the samples (a missing cell has none); a slow first run was a
    discarded warm-up."""
    cells = flags.split(";") if isinstance(flags, str) else []
    return ";".join(f for f in cells if f and f != "slow-first-run")


def _doubt(row: Mapping[str, Any]) -> str:
    """Why a point cannot decide anything: its own or its in-job serial baseline's stability
    flags, or a speedup beyond p (a disturbed baseline); empty when it is trustworthy."""
    flags = _sample_doubts(row["flags"])
    reasons = [f"{row['backend']}: {flags}"] if flags else []
    if base := _sample_doubts(row.get("baseline_flags")):
        reasons.append(f"serial baseline: {base}")
    if row["speedup_ci_lo"] > row["p"] * 1.1:
        reasons.append(f"speedup above p={row['p']}")
    return "; ".join(reasons)


def _decide(value: bool, doubt: str) -> bool | None:
    return None if doubt else value


def _strong_at_pmax(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    t = table[(table["mode"] == "strong") & table.check_ok & table.speedup.notna()]
    pmax = int(t.p.max()) if not t.empty else 1
    return t[t.p == pmax], pmax


def scaling_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C1, C2 and C11 from the scaling table."""
    if table.empty:
        return []
    top, pmax = _strong_at_pmax(table)
    where = f"strong scaling at p={pmax} on {machine}"
    if pmax < 2:
        return [
            Verdict(c, "inconclusive", "fewer than 2 cores measured", where, "scaling", "")
            for c in ("C1", "C2", "C11")
        ]
    half_gain = 1 + (pmax - 1) / 2
    out = []

    # C1: processes on compute-bound kernels
    procs = top[top.backend.str.startswith(("processes", "dask-processes"))]
    c1, ev = {}, []
    for kernel, g in procs[procs.kind.isin(COMPUTE_KINDS)].groupby("kernel"):
        best = g.loc[g.speedup.idxmax()].to_dict()
        doubt = _doubt(best)
        c1[kernel] = _decide(best["speedup_ci_lo"] >= half_gain, doubt)
        ev.append(
            f"{kernel}: best {best['backend']} {_fmt(best)}"
            + (f" (undecided: {doubt})" if doubt else "")
        )
    mem = procs[procs.kind == "memory"]
    mem_note = ""
    if not mem.empty:
        best = mem.loc[mem.speedup.idxmax()]
        mem_note = f"; memory-bound {best.kernel} (not counted): {best.backend} {_fmt(best)}"
    if c1:
        out.append(
            Verdict(
                "C1",
                combine_undecided(c1),
                "; ".join(ev) + mem_note,
                f"{where}; significant = CI lower bound >= {half_gain:.2f}; "
                f"holds for {[k for k, v in c1.items() if v]}, not for {[k for k, v in c1.items() if v is False]}; "
                f"undecided (flagged points) for {[k for k, v in c1.items() if v is None]}",
                "scaling",
                "scaling_speedup.svg",
            )
        )

    # C2 and C11: the thread backend per kernel
    thr = top[top.backend == "threads"]
    c2, c11, ev2, ev11 = {}, {}, [], []
    for row in thr.to_dict("records"):
        kernel, busy = row["kernel"], row["busy_cores"]
        faster = row["speedup_ci_lo"] > 1 + THRESHOLD
        doubt = _doubt(row)
        note = f" (undecided: {doubt})" if doubt else ""
        c2[kernel] = _decide(busy >= half_gain and faster, doubt)
        c11[kernel] = _decide(faster, doubt)
        ev2.append(
            f"{kernel} ({row['kind']}): {busy:.2f} busy cores, S={row['speedup']:.2f}" + note
        )
        ev11.append(f"{kernel} ({row['kind']}): {_fmt(row)}{note}")
    if c2:
        gil = [k for k, v in c11.items() if v is False]
        out.append(
            Verdict(
                "C2",
                combine_undecided(c2),
                "; ".join(ev2),
                f"{where}; improved = >= {half_gain:.2f} busy cores and faster than serial; "
                f"fails for {gil or 'none'} (the GIL serialises pure-Python threads)",
                "scaling",
                "scaling_utilization.svg",
            )
        )
        out.append(
            Verdict(
                "C11",
                combine_undecided(c11),
                "; ".join(ev11),
                f"{where}; faster = speedup CI above {1 + THRESHOLD:.2f}; "
                f"holds for {[k for k, v in c11.items() if v]}, not for {gil or 'none'}; "
                f"undecided (flagged points) for {[k for k, v in c11.items() if v is None]}",
                "scaling",
                "scaling_speedup.svg",
            )
        )
    return out
