"""Verdict for C4 from the memory table: MiB per extra worker, processes vs threads, by sharing."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import (
    AGAINST,
    FOR,
    NONE,
    Call,
    Side,
    check_table,
    combine,
    described,
    flags_of,
    is_processes,
    is_threads,
    judge,
    open_reason,
    say,
    span,
    usable,
)

MIN_MIB = 1.0  # per-worker differences below 1 MiB count as no difference
DUPLICATED = 0.5  # an input counts as duplicated when each worker adds >= half of its size
PLOT = "memory_per_worker.svg"
NAME = "memory"
#: flags that lower a row's measured memory: fewer workers busy or holding the input
LOWERS = {"not-all-workers-busy": AGAINST, "not-all-workers-hold-input": AGAINST}
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


def more_than(row: pd.Series, ref: pd.Series) -> bool | None:
    """Does a worker of row cost more than one of ref? None when the intervals cannot tell."""
    if _undetermined(row, ref):
        return None
    (s, lo, hi), (rs, rlo, rhi) = _slope(row), _slope(ref)
    if lo > rhi and s - rs > MIN_MIB:
        return True
    if hi - rlo < MIN_MIB:
        return False
    return None


def duplicated(row: pd.Series, base: pd.Series) -> bool | None:
    """Does each worker add a copy of the input over the same backend without input?"""
    if _undetermined(row, base):
        return None
    need = DUPLICATED * row.input_mib
    (_, lo, hi), (_, blo, bhi) = _slope(row), _slope(base)
    if lo - bhi >= need:
        return True
    if hi - blo < need:
        return False
    return None


Scenario = tuple[str, str, str]  # (what the process needs memory for, backend, state)
NO_INPUT = "its own interpreter (no input)"
#: the scenarios as a headline names them
SHORT = {NO_INPUT: "no input"}


def _sides(row: pd.Series, ref: pd.Series, ref_who: str) -> tuple[Side, Side]:
    """A process row compared with a reference: fewer busy or input-holding workers than
    asked lower the process row (a "more" despite them stands) and the reference the other
    way; a missing worker could move either; CPU contention does not move memory."""
    return (
        Side(row, NONE, who=str(row.name[0]), bias=LOWERS),
        Side(ref, NONE, who=ref_who, bias={k: FOR for k in LOWERS}),
    )


def _decide(
    fits: pd.DataFrame, state: str
) -> tuple[dict[Scenario, Call], dict[Scenario, float], list[str]]:
    """Scenario -> does the process backend need more memory (and by how many MiB per
    worker); plus the evidence lines."""
    out: dict[Scenario, Call] = {}
    extra: dict[Scenario, float] = {}
    at = fits[fits.index.get_level_values("state") == state]
    base_ev, data_ev = [], []
    refs = at[is_threads(at) & (at.index.get_level_values("sharing") == "none")]
    thr = refs.iloc[0] if not refs.empty else None
    if thr is not None:
        base_ev.append(f"{thr.name[0]} {_fmt(thr)}")
    for key, row in at[is_processes(at)].iterrows():
        backend, sharing, _ = key
        sc: Scenario | None = None
        if sharing == "none":
            base_ev.append(f"{backend} {_fmt(row)}")
            if thr is not None:
                sc = (NO_INPUT, backend, state)
                out[sc] = judge(more_than(row, thr), *_sides(row, thr, str(thr.name[0])))
                extra[sc] = _slope(row)[0] - _slope(thr)[0]
        elif (backend, "none", state) in at.index:
            base = at.loc[(backend, "none", state)]
            data_ev.append(f"{backend} {LABELS[sharing]} {_fmt(row)}")
            sc = (f"a {LABELS[sharing]} input", backend, state)
            out[sc] = judge(duplicated(row, base), *_sides(row, base, f"{backend} without input"))
            extra[sc] = _slope(row)[0] - _slope(base)[0]
        if sc is not None and out[sc].note:
            (base_ev if sharing == "none" else data_ev)[-1] += out[sc].text()
    shared = at[is_threads(at) & (at.index.get_level_values("sharing") == "inherited")]
    if not shared.empty:
        data_ev.insert(0, f"threads sharing it {_fmt(shared.iloc[0])}")
    lines = [f"{state}, no input: " + "; ".join(base_ev)]
    if data_ev:
        lines.append(f"{state}, with the input: " + "; ".join(data_ev))
    return out, extra, lines


def summary(scenarios: Mapping[Scenario, bool | None], value: bool | None) -> str:
    """Scenarios with this outcome, grouped: 'a copied input: fork, spawn (idle only)'."""
    groups: dict[str, dict[str, list[str]]] = {}
    for (what, backend, state), v in scenarios.items():
        if v is value:
            groups.setdefault(what, {}).setdefault(backend, []).append(state)
    parts = []
    for what, backends in groups.items():
        names = [b if len(s) > 1 else f"{b} ({s[0]} only)" for b, s in backends.items()]
        parts.append(f"{what}: {', '.join(names)}")
    return "; ".join(parts) or "none"


def _fits(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (backend, sharing, state): its fitted slopes, and every flag of its N."""
    keys = ["backend", "sharing", "state"]
    t = described(table)
    fits = t.drop_duplicates(keys).set_index(keys)
    if "flags" in t.columns:
        union = t.groupby(keys)["flags"].agg(
            lambda f: ";".join(dict.fromkeys(x for c in f for x in flags_of(c)))
        )
        fits["flags"] = union.reindex(fits.index)
    return fits


def memory_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C4: processes cost more per worker than threads, and a shared input is duplicated."""
    if table.empty:
        return []
    check_table(table, NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
    table = usable(table)
    fits = _fits(table)
    calls: dict[Scenario, Call] = {}
    extra: dict[Scenario, float] = {}
    evidence = []
    for state in ("idle", "working"):
        if state in fits.index.get_level_values("state"):
            c, x, ev = _decide(fits, state)
            calls.update(c)
            extra.update(x)
            evidence += ev
    scenarios = {k: c.value for k, c in calls.items()}
    ns = sorted(table.workers.unique())
    cores = int(table.cores.max())
    where = (
        f"N = {', '.join(map(str, ns))} workers on {cores} cores of {machine} (N > {cores}: "
        f"idle or lightly working workers); data PSS of the whole process tree; input "
        f"{table.input_mib.max():.0f} MiB; more = per-worker interval above threads' and "
        f"> {MIN_MIB:.0f} MiB more; duplicated = each worker adds >= {DUPLICATED:.0%} of the input"
    )
    results = {str(k): v for k, v in scenarios.items()}
    verdict = combine(results)
    if verdict == "inconclusive":
        conditions = f"{where}; no scenario decided (intervals overlap or fewer than 3 N)"
    else:
        conditions = (
            f"{where}. Processes need more memory for {summary(scenarios, True)}. "
            f"Not for {summary(scenarios, False)}"
        )
    if None in scenarios.values():
        conditions += f". Undecided: {summary(scenarios, None)}"

    def whats(v: bool | None) -> str:
        return " or ".join(
            dict.fromkeys(SHORT.get(k[0], k[0]) for k, x in scenarios.items() if x is v)
        )

    def mib(v: bool | None) -> str:
        return span([extra[k] for k, x in scenarios.items() if x is v], "{:.1f}")

    headline = say(
        verdict,
        results,
        yes=(
            f": each extra process worker needed {mib(True)} MiB more (with {whats(True)})",
            f" with {whats(True)} (+{mib(True)} MiB per process worker)",
        ),
        no=(
            f": each extra process worker needed only {mib(False)} MiB more (with {whats(False)})",
            f" with {whats(False)}",
        ),
        open_=f" with {whats(None)}",
        on="the input",
        reason=open_reason(
            calls.values(), "no scenario's per-worker interval lies clear of the bar (or < 3 N)"
        ),
    )
    evidence_text = "MiB per extra worker (data PSS: anonymous + shared memory) [95% CI]: "
    return [
        Verdict(
            "C4", verdict, evidence_text + " | ".join(evidence), conditions, NAME, PLOT, headline
        )
    ]
