"""Verdict for C9 from the hybrid table: does a processes x threads mix beat the pure splits?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import THRESHOLD, combine

PLOT = "hybrid_heatmap.svg"


def _cell(row: pd.Series) -> str:
    return (
        f"{row.processes}x{row.threads_per_process} {row.time_median:.3f} s [{row.time_ci_lo:.3f}, {row.time_ci_hi:.3f}]"
        f" (S={row.speedup:.2f})"
    )


def beats(a: pd.Series, b: pd.Series) -> bool:
    """a is faster than b beyond both intervals and by more than the threshold."""
    return a.time_ci_hi < b.time_ci_lo and a.time_median < (1 - THRESHOLD) * b.time_median


def hybrid_outcome(limited: pd.DataFrame) -> tuple[bool | None, str]:
    """True/False when the best hybrid split beats / loses to the best pure one; None if untold."""
    pure = limited[(limited.processes == 1) | (limited.threads_per_process == 1)]
    hyb = limited[(limited.processes > 1) & (limited.threads_per_process > 1)]
    best_pure = pure.loc[pure.time_median.idxmin()]
    others = ", ".join(_cell(r) for _, r in pure.iterrows())
    if hyb.empty:
        return None, f"pure splits only: {others}; no split with P>1 and T>1 at this core count"
    best_h = hyb.loc[hyb.time_median.idxmin()]
    text = f"best hybrid {_cell(best_h)} vs best pure {_cell(best_pure)}"
    if beats(best_h, best_pure):
        return True, text
    if beats(best_pure, best_h):
        return False, text
    return None, text + " (intervals overlap or within the threshold)"


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
    cores = int(table.cores.max())
    outcomes: dict[str, bool] = {}
    evidence, untold = [], []
    for family, g in table.groupby("family", sort=False):
        lim = g[g.variant == "limited"]
        if lim.empty:
            continue
        ok, text = hybrid_outcome(lim)
        pen = penalty_text(g[g.variant == "unlimited"])
        evidence.append(f"{family} ({g.kernel.iloc[0]}): {text}" + (f"; {pen}" if pen else ""))
        if ok is None:
            untold.append(family)
        else:
            outcomes[family] = ok
    verdict = combine(outcomes) if outcomes else "inconclusive"
    conditions = (
        f"P x T = {cores} cores on {machine}; limited = inner pool at T Numba threads or 1 BLAS "
        f"thread per worker, unlimited = library default (one per CPU); beats = faster beyond "
        f"both 95% intervals and by > {THRESHOLD:.0%}; undecided: {untold or 'none'}"
        + ("; a hybrid split needs >= 4 cores" if cores < 4 else "")
    )
    return [Verdict("C9", verdict, "; ".join(evidence), conditions, "hybrid", PLOT)]
