"""Verdict for C9 from the hybrid table: does a processes x threads mix beat the pure splits?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    THRESHOLD,
    Call,
    Side,
    cannot_test,
    check_table,
    combine,
    decide,
    holding,
    open_reason,
    outcome_text,
    ratio_interval,
    say,
    undecided,
    usable,
)

NAME = "hybrid"
PLOT = "hybrid_heatmap.svg"
INTERVALS = (("penalty", "penalty_ci_lo", "penalty_ci_hi"),)
NONNEGATIVE = ("penalty", "cores")


def _split(row: pd.Series) -> str:
    return f"{row.processes}x{row.threads_per_process}"


def _cell(row: pd.Series) -> str:
    return (
        f"{_split(row)} {row.time_median:.3f} s [{row.time_ci_lo:.3f}, {row.time_ci_hi:.3f}]"
        f" (S={row.speedup:.2f})"
    )


def hybrid_outcome(limited: pd.DataFrame) -> tuple[Call | None, str, str]:
    """Does the best hybrid split run faster than the best pure one by more than the
    threshold, beyond both intervals (True), or not even at best (False)? None when there
    is no hybrid split. Also the evidence and the key numbers."""
    pure = limited[(limited.processes == 1) | (limited.threads_per_process == 1)]
    hyb = limited[(limited.processes > 1) & (limited.threads_per_process > 1)]
    others = ", ".join(_cell(r) for _, r in pure.iterrows())
    if hyb.empty or pure.empty:
        return None, f"pure splits only: {others}; no split with P>1 and T>1 measured", ""
    best_pure = pure.loc[pure.time_median.idxmin()]
    best_h = hyb.loc[hyb.time_median.idxmin()]
    r, lo, hi = ratio_interval(
        (best_pure.time_median, best_pure.time_ci_lo, best_pure.time_ci_hi),
        (best_h.time_median, best_h.time_ci_lo, best_h.time_ci_hi),
    )
    call = decide(
        lo,
        hi,
        1 + THRESHOLD,
        Side(best_h, achieved=best_h.get("speedup_ci_lo"), who=_split(best_h)),
        Side(best_pure, achieved=best_pure.get("speedup_ci_lo"), who=_split(best_pure)),
    )
    text = (
        f"best hybrid {_cell(best_h)} vs best pure {_cell(best_pure)}: hybrid {r:.2f}x as "
        f"fast [{lo:.2f}, {hi:.2f}]{call.text()}"
    )
    numbers = (
        f"{_split(best_h)} {best_h.time_median:.3g} s vs pure {_split(best_pure)} "
        f"{best_pure.time_median:.3g} s"
    )
    return call, text, numbers


def penalty_text(unlimited: pd.DataFrame) -> str:
    """The largest oversubscription penalty of a family, and a split that was not oversubscribed.

    Unlimited pools that happen to match the split (e.g. 1 process x all threads) are a
    control: their ratio to the limited run shows how much of a "penalty" is noise.
    """
    if unlimited.empty or "penalty" not in unlimited:
        return ""
    u = unlimited.dropna(subset=["penalty"])
    over = u[u.threads_total > u.cores]
    if over.empty:
        return ""
    w = over.loc[over.penalty.idxmax()]
    text = (
        f"unlimited {w.inner} pools at {w.split} ({w.threads_total} threads on {w.cores} "
        f"cores, {w.inner_threads} per pool seen): {w.penalty:.2f}x the limited time "
        f"[{w.penalty_ci_lo:.2f}, {w.penalty_ci_hi:.2f}]"
    )
    control = u[u.threads_total <= u.cores]
    if not control.empty:
        c = control.iloc[0]
        text += (
            f" (control {c.split}, not oversubscribed: {c.penalty:.2f}x "
            f"[{c.penalty_ci_lo:.2f}, {c.penalty_ci_hi:.2f}])"
        )
    return text


def hybrid_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C9: supported only where a hybrid split beats the best pure split beyond its interval."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    cores = int(table.cores.max())
    results: dict[str, bool | None] = {}
    numbers: dict[str, str] = {}
    evidence, missing = [], []
    calls: list[Call] = []
    for family, g in table.groupby("family", sort=False):
        lim = usable(g[g.variant == "limited"])
        if lim.empty:
            continue
        call, text, numbers[str(family)] = hybrid_outcome(lim)
        pen = penalty_text(g[g.variant == "unlimited"])
        evidence.append(f"{family} ({g.kernel.iloc[0]}): {text}" + (f"; {pen}" if pen else ""))
        results[str(family)] = None if call is None else call.value
        calls += [call] if call is not None else []
        if call is None:
            missing.append(str(family))
    conditions = (
        f"P x T = {cores} cores on {machine}; limited = inner pool at T Numba threads or 1 BLAS "
        f"thread per worker, unlimited = library default (one per CPU); beats = hybrid/pure "
        f"speed interval above {1 + THRESHOLD:.2f}; not = below it"
        + ("; a hybrid split needs >= 4 cores" if cores < 4 else "")
    )
    if len(missing) == len(results):  # no family has a split with P>1 and T>1
        if cores < 4:
            reason = (
                f"Needs ≥ 4 cores for a P × T split with both above 1; this machine has {cores}."
            )
            return cannot_test(["C9"], reason, conditions, NAME, PLOT, "; ".join(evidence))
        return [undecided("C9", "no split with P>1 and T>1 was measured", conditions, NAME, PLOT)]
    verdict = combine(results)
    first = {v: next((numbers[k] for k in holding(results, v)), "") for v in (True, False)}
    headline = say(
        verdict,
        results,
        yes=(
            f": a processes × threads mix ran fastest ({first[True]})",
            f" for {{which}} ({first[True]})",
        ),
        no=(
            f": a pure split was as fast or faster ({first[False]})",
            f" for {{which}} ({first[False]})",
        ),
        open_=" for {which}",
        on="the workload",
        reason=open_reason(calls, "the mix/pure speed interval straddles the threshold"),
    )
    return [
        Verdict(
            "C9",
            verdict,
            "; ".join(evidence),
            f"{conditions}; {outcome_text(results)}",
            NAME,
            PLOT,
            headline,
        )
    ]
