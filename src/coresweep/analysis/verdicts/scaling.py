"""Verdicts for C1, C2 and C11 from the scaling table.

At the largest p measured (points flagged oversubscribed never count), per kernel:
C1 holds when some process backend's speedup interval lies above half the ideal gain,
1 + (p-1)/2, and fails when every one lies below; C11 the same for thread backends against
1 + threshold; C2 when a thread backend is that much faster and keeps half the ideal gain
of cores busy. Contention flags (low capacity, drift, load) slow the parallel run: a speedup
that clears the bar despite them stands, one below it does not decide. The in-job serial
baseline's flags work the other way (a slowed baseline inflates the speedup).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    AGAINST,
    FOR,
    THRESHOLD,
    Call,
    Side,
    all_of,
    cannot_test,
    check_table,
    clears,
    combine,
    holding,
    is_processes,
    is_threads,
    judge,
    merge,
    open_reason,
    outcome_text,
    say,
    span,
    usable,
)

COMPUTE_KINDS = ("python", "nogil", "blas")
NAME = "scaling"
NONNEGATIVE = ("busy_cores",)

Row = Mapping[str, Any]


def _fmt(row: Row) -> str:
    return f"S={row['speedup']:.2f} [{row['speedup_ci_lo']:.2f}, {row['speedup_ci_hi']:.2f}]"


def _call(row: Row, value: bool | None) -> Call:
    """The point's decision unless its flags, or its serial baseline's, could flip it; a
    speedup beyond p means a disturbed baseline and decides nothing."""
    call = judge(
        value,
        Side(row, AGAINST, achieved=row["speedup_ci_lo"], who=row["backend"]),
        Side(row, FOR, column="baseline_flags", who="serial baseline"),
    )
    if call.value is not None and row["speedup_ci_lo"] > row["p"] * 1.1:
        return Call(None, f"undecided: speedup above p={row['p']} (disturbed baseline)", call.probe)
    return call


Decide = Callable[[Row], bool | None]


def _per_kernel(
    rows: pd.DataFrame, decide: Decide, show: Callable[[Row], str]
) -> tuple[dict[str, Call], dict[str, list[Row]], list[str]]:
    """Per kernel: holds if one backend's point holds, fails if every one fails; the rows
    that decided it and the evidence lines."""
    calls: dict[str, Call] = {}
    deciding: dict[str, list[Row]] = {}
    lines = []
    for kernel, g in rows.groupby("kernel", sort=False):
        recs = g.to_dict("records")
        per = [_call(r, decide(r)) for r in recs]
        calls[str(kernel)] = merge(per, "any")
        value = calls[str(kernel)].value
        deciding[str(kernel)] = [r for r, c in zip(recs, per, strict=True) if c.value is value]
        lines.append(
            f"{kernel} ({g.kind.iloc[0]}): "
            + ", ".join(
                f"{r['backend']} {show(r)}{c.text()}" for r, c in zip(recs, per, strict=True)
            )
        )
    return calls, deciding, lines


def _values(calls: Mapping[str, Call]) -> dict[str, bool | None]:
    return {k: c.value for k, c in calls.items()}


def _rows_of(deciding: Mapping[str, list[Row]], kernels: list[str]) -> list[Row]:
    return [r for k in kernels for r in deciding[k]]


def _speedups(rows: list[Row]) -> str:
    return span([r["speedup_ci_lo"] for r in rows] + [r["speedup_ci_hi"] for r in rows]) + "×"


def _top(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    t = usable(table)
    t = t[(t["mode"] == "strong") & t.speedup.notna()]
    pmax = int(t.p.max()) if not t.empty else 1
    return t[t.p == pmax], pmax


def _c1(top: pd.DataFrame, pmax: int, half: float, where: str) -> list[Verdict]:
    procs = top[is_processes(top)]
    compute = procs[procs.kind.isin(COMPUTE_KINDS)]

    def decide(r: Row) -> bool | None:
        return clears(r["speedup_ci_lo"], r["speedup_ci_hi"], half)

    calls, deciding, lines = _per_kernel(compute, decide, _fmt)
    if not calls:
        return []
    mem = procs[procs.kind == "memory"]
    if not mem.empty:
        best = mem.loc[mem.speedup.idxmax()]
        lines.append(f"memory-bound {best.kernel} (not counted): {best.backend} {_fmt(best)}")
    res = _values(calls)
    yes, no, open_ = (holding(res, v) for v in (True, False, None))
    verdict = combine(res)
    workers = f"{pmax} processes"
    headline = say(
        verdict,
        res,
        yes=(
            f" for compute-bound code: {workers} ran {_speedups(_rows_of(deciding, yes))} faster "
            "than one ({which})",
            f" for {{which}} ({workers} {_speedups(_rows_of(deciding, yes))} faster)",
        ),
        no=f" for {{which}} ({workers} at most {_speedups(_rows_of(deciding, no))}; "
        f"needs > {half:.2f}×)",
        open_=" for {which}",
        on="the kernel",
        reason=open_reason(
            calls.values(), f"no kernel's speedup interval lies clear of {half:.2f}× at p={pmax}"
        ),
    )
    return [
        Verdict(
            "C1",
            verdict,
            "; ".join(lines),
            f"{where}; significant = speedup interval above half the ideal gain, {half:.2f}; "
            f"{outcome_text(res)}",
            NAME,
            "scaling_speedup.svg",
            headline,
        )
    ]


def _c2_c11(top: pd.DataFrame, pmax: int, half: float, where: str) -> list[Verdict]:
    thr = top[is_threads(top)]
    bar = 1 + THRESHOLD

    def faster(r: Row) -> bool | None:
        return clears(r["speedup_ci_lo"], r["speedup_ci_hi"], bar)

    def busy_and_faster(r: Row) -> bool | None:
        busy = r["busy_cores"]
        return all_of([None if pd.isna(busy) else bool(busy >= half), faster(r)])

    def busy_text(r: Row) -> str:
        return f"{r['busy_cores']:.2f} busy cores, {_fmt(r)}"

    c11, d11, ev11 = _per_kernel(thr, faster, _fmt)
    if not c11:
        return []
    c2, d2, ev2 = _per_kernel(thr, busy_and_faster, busy_text)
    r11, r2 = _values(c11), _values(c2)
    workers = f"{pmax} threads"

    def busy(kernels: list[str]) -> str:
        return span(r["busy_cores"] for r in _rows_of(d2, kernels))

    v2, v11 = combine(r2), combine(r11)
    gil = holding(r11, False)
    h2 = say(
        v2,
        r2,
        yes=f" for {{which}} ({workers} kept {busy(holding(r2, True))} of {pmax} cores busy)",
        no=f" for {{which}} (only {busy(holding(r2, False))} of {pmax} cores busy, or no faster)",
        open_=" for {which}",
        on="the kernel",
        reason=open_reason(
            c2.values(), f"no kernel's thread speedup interval lies clear of {bar:.2f}×"
        ),
    )
    h11 = say(
        v11,
        r11,
        yes=f" for {{which}} ({workers} ran {_speedups(_rows_of(d11, holding(r11, True)))} "
        "faster than one)",
        no=f" for {{which}} ({_speedups(_rows_of(d11, gil))}, not above {bar:.2f}×)",
        open_=" for {which}",
        on="the kernel",
        reason=open_reason(
            c11.values(), f"no kernel's thread speedup interval lies clear of {bar:.2f}×"
        ),
    )
    return [
        Verdict(
            "C2",
            v2,
            "; ".join(ev2),
            f"{where}; improved = >= {half:.2f} busy cores and speedup interval above "
            f"{bar:.2f}; {outcome_text(r2)} (the GIL serialises pure-Python threads)",
            NAME,
            "scaling_utilization.svg",
            h2,
        ),
        Verdict(
            "C11",
            v11,
            "; ".join(ev11),
            f"{where}; faster = speedup interval above {bar:.2f}; {outcome_text(r11)}",
            NAME,
            "scaling_speedup.svg",
            h11,
        ),
    ]


def scaling_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C1, C2 and C11 from the scaling table."""
    if table.empty:
        return []
    check_table(table, NAME, nonnegative=NONNEGATIVE)
    top, pmax = _top(table)
    dropped = len(table) - len(usable(table))
    where = f"strong scaling at p={pmax} on {machine}" + (
        f" ({dropped} oversubscribed points not counted)" if dropped else ""
    )
    if pmax < 2:
        return cannot_test(
            ("C1", "C2", "C11"),
            "Needs ≥ 2 usable cores to run workers in parallel; this run measured only p=1.",
            where,
            NAME,
        )
    half = 1 + (pmax - 1) / 2
    return _c1(top, pmax, half, where) + _c2_c11(top, pmax, half, where)
