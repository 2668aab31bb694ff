"""Verdict for C4 from the memory table: MiB per extra worker, processes vs threads, by sharing."""

from __future__ import annotations

import math

import pandas as pd

from coresweep import flags
from coresweep.analysis.verdicts import (
    described,
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
    Difference,
    Words,
    case_key,
    disturbances,
    evaluate,
)
from coresweep.analysis.verdicts.record import Verdict
from coresweep.flags import Flag

MIN_MIB = 1.0  # per-worker differences below 1 MiB count as no difference
DUPLICATED = 0.5  # an input counts as duplicated when each worker adds >= half of its size
PLOT = "memory_per_worker.svg"
NAME = "memory"
#: fewer workers busy or holding the input can only lower a row's memory; CPU contention
#: does not move memory; a slope from fewer than 3 N has no interval (said by the case)
KINDS = {Flag.NOT_ALL_BUSY: "slow", Flag.NOT_ALL_HOLD_INPUT: "slow",
         Flag.LOW_CAPACITY: None, Flag.REFERENCE_DRIFT: None}  # fmt: skip
LABELS = {"copied": "copied", "inherited": "fork copy-on-write", "shm": "shared_memory"}


#: the deciding metric: PSS of anonymous and shared-memory pages, which only the tree
#: itself shares (library PSS moves with every process on the machine that maps the file)
METRIC = "pss_data"
INTERVALS = tuple(
    (f"{m}_per_worker_mib", f"{m}_per_worker_ci_lo", f"{m}_per_worker_ci_hi")
    for m in ("pss", "uss", "pss_data")
)
NONNEGATIVE = ("pss_mib", "uss_mib", "pss_data_mib", "input_mib", "workers")


def _slope(row: pd.Series) -> tuple[float, float, float]:
    return tuple(row[f"{METRIC}_per_worker_{k}"] for k in ("mib", "ci_lo", "ci_hi"))


def _fmt(row: pd.Series) -> str:
    s, lo, hi = _slope(row)
    return f"{s:.1f} [{lo:.1f}, {hi:.1f}]"


def _undetermined(*rows: pd.Series) -> bool:
    return any(math.isnan(v) for r in rows for v in _slope(r))


Scenario = tuple[str, str, str]  # (what the process needs memory for, backend, state)
NO_INPUT = "its own interpreter (no input)"
#: the scenarios as a headline names them
SHORT = {NO_INPUT: "no input"}


def _fits(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (backend, sharing, state): its fitted slopes, and every flag of its N."""
    keys = ["backend", "sharing", "state"]
    t = described(table)
    fits = t.drop_duplicates(keys).set_index(keys)
    if "flags" in t.columns:
        union = t.groupby(keys)["flags"].agg(
            lambda f: flags.join(r.text for c in f for r in flags.parse(c))
        )
        fits["flags"] = union.reindex(fits.index)
    return fits


def _case(what: str, key: dict, row: pd.Series, ref: pd.Series, need: float) -> Case:
    """A process row's MiB per worker over a reference's, in units of what the claim needs
    (1 MiB more than threads; half the input more than the same pool without it): the
    widest difference both intervals allow. Fewer workers busy or holding the input lower
    the row (the truth may be higher) and the reference the other way."""
    (s, lo, hi), (rs, rlo, rhi) = _slope(row), _slope(ref)
    moved = disturbances(row, LOWERS, who=str(row.name[0]), kinds=KINDS) + disturbances(
        ref, RAISES, who="reference", kinds=KINDS
    )
    blind = "fewer than 3 N: no per-worker interval" if _undetermined(row, ref) else ""
    return Case(
        SHORT.get(what, what),
        case_key(key, ("backend", "sharing", "state")),
        (s - rs) / need,
        (lo - rhi) / need,
        (hi - rlo) / need,
        moved,
        label=f"{key['backend']} {key['state']} {_fmt(row)} vs {_fmt(ref)} MiB/worker "
        f"(need +{need:.3g})",
        blocked=blind,
    )


def extra_memory(table: pd.DataFrame) -> list[Case]:
    """Per process backend, input sharing and state: does a worker need more memory?"""
    fits = _fits(usable(table))
    cases = []
    for state in ("idle", "working"):
        at = fits[fits.index.get_level_values("state") == state]
        refs = at[is_threads(at) & (at.index.get_level_values("sharing") == "none")]
        for (backend, sharing, _), row in at[is_processes(at)].iterrows():
            key = {"backend": backend, "sharing": sharing, "state": state}
            if sharing == "none" and not refs.empty:
                cases.append(_case(NO_INPUT, key, row, refs.iloc[0], MIN_MIB))
            elif sharing != "none" and (backend, "none", state) in at.index:
                base = at.loc[(backend, "none", state)]
                what = f"a {LABELS[sharing]} input"
                cases.append(_case(what, key, row, base, DUPLICATED * row.input_mib))
    return cases


def _where(table: pd.DataFrame) -> str:
    ns = sorted(table.workers.unique())
    cores = int(table.cores.max())
    return (
        f"N = {', '.join(map(str, ns))} workers on {cores} cores (N > {cores}: idle or lightly "
        f"working workers); data PSS of the whole process tree; input "
        f"{table.input_mib.max():.0f} MiB; estimate = extra MiB per worker in units of the "
        f"need: > {MIN_MIB:.0f} MiB over threads (no input), >= {DUPLICATED:.0%} of the input "
        "over the same pool without it"
    )


C4 = Claim(
    "C4",
    extra_memory,
    Difference(1.0),
    Words(
        "each process worker needs more", "no more per process worker", "the input", numbers=False
    ),  # fmt: skip
    over="all",
    disturbances=("slow", "flag"),
    context=_where,
    plot=PLOT,
)
CLAIMS = (C4,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def memory_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C4: processes cost more per worker than threads, and a shared input is duplicated."""
    return [evaluate(C4, table, machine, threshold)]
