"""Verdict for C9 from the hybrid table: does a processes x threads mix beat the pure splits?"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdicts import (
    cannot_test,
    ratio_interval,
    rule,
    undecided,
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


def _splits(limited: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    pure = limited[(limited.processes == 1) | (limited.threads_per_process == 1)]
    hyb = limited[(limited.processes > 1) & (limited.threads_per_process > 1)]
    return pure, hyb


def _side(row: pd.Series, slows: str) -> tuple:
    return doubted(disturbances(row, slows, who=_split(row)), row, row.get("speedup_ci_lo"))


def mix_gains(table: pd.DataFrame) -> list[Case]:
    """Per family (inner pools limited): the best pure split's time over the best hybrid
    split's (P>1 and T>1), the widest ratio both intervals allow. A slowed hybrid lowers
    it, a slowed pure split raises it."""
    cases = []
    for family, g in table.groupby("family", sort=False):
        pure, hyb = _splits(usable(g[g.variant == "limited"]))
        if hyb.empty or pure.empty:
            continue
        p, h = pure.loc[pure.time_median.idxmin()], hyb.loc[hyb.time_median.idxmin()]
        r, lo, hi = ratio_interval(
            (p.time_median, p.time_ci_lo, p.time_ci_hi), (h.time_median, h.time_ci_lo, h.time_ci_hi)
        )
        pen = penalty_text(g[g.variant == "unlimited"])
        label = (
            f"({g.kernel.iloc[0]}) best hybrid {_cell(h)} vs best pure {_cell(p)}"
            + (f"; {pen}" if pen else "")
            + "; hybrid as fast"
        )
        moved = _side(h, LOWERS) + _side(p, RAISES)
        key = case_key({"family": family, "variant": "limited"}, ("family", "variant"))
        cases.append(Case(str(family), key, r, lo, hi, moved, label=label, note=stopped_note(h)))
    return cases


def _where(table: pd.DataFrame) -> str:
    cores = int(table.cores.max())
    return (
        f"P x T = {cores} cores; limited = inner pool at T Numba threads or 1 BLAS thread per "
        "worker, unlimited = library default (one per CPU)"
        + ("; a hybrid split needs >= 4 cores" if cores < 4 else "")
    )


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


C9 = Claim(
    "C9",
    mix_gains,
    Ratio(),
    Words(
        "a processes × threads mix faster, pure/mix time",
        "pure/mix time",
        "the workload",
        equal="a pure split as fast, pure/mix time",
    ),  # fmt: skip
    context=_where,
    plot=PLOT,
)
CLAIMS = (C9,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def hybrid_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C9: supported only where a hybrid split beats the best pure split beyond its interval."""
    if mix_gains(table):
        return [evaluate(C9, table, machine, threshold)]
    cores = int(table.cores.max())
    where = f"{_where(table)} on {machine}"
    pure = []
    for family, g in table.groupby("family", sort=False):
        lim = usable(g[g.variant == "limited"])
        if lim.empty:
            continue
        cells = ", ".join(_cell(r) for _, r in _splits(lim)[0].iterrows())
        pen = penalty_text(g[g.variant == "unlimited"])
        pure.append(
            f"{family}: pure splits only: {cells}; no split with P>1 and T>1 measured"
            + (f"; {pen}" if pen else "")
        )
    if cores < 4:
        reason = f"Needs ≥ 4 cores for a P × T split with both above 1; this machine has {cores}."
        return cannot_test(["C9"], reason, where, NAME, (PLOT,), "; ".join(pure))
    return [undecided("C9", "no split with P>1 and T>1 was measured", where, NAME, (PLOT,))]
