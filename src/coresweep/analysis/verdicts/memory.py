"""Verdict for C4 from the memory table: MiB per extra worker, processes vs threads, by sharing."""

from __future__ import annotations

import math

import pandas as pd

from coresweep.analysis.verdict import Verdict
from coresweep.analysis.verdicts import combine_undecided

MIN_MIB = 1.0  # per-worker differences below 1 MiB count as no difference
DUPLICATED = 0.5  # an input counts as duplicated when each worker adds >= half of its size
PLOT = "memory_per_worker.svg"
LABELS = {"copied": "copied", "inherited": "fork copy-on-write", "shm": "shared_memory"}


#: the deciding metric: PSS of anonymous and shared-memory pages, which only the tree
#: itself shares (library PSS moves with every process on the machine that maps the file)
METRIC = "pss_data"


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


def _decide(fits: pd.DataFrame, state: str) -> tuple[dict[Scenario, bool | None], list[str]]:
    """Scenario -> does the process backend need more memory; plus the evidence lines."""
    out: dict[Scenario, bool | None] = {}
    at = fits.xs(state, level="state")
    base_ev, data_ev = [], []
    thr = at.loc[("threads", "none")] if ("threads", "none") in at.index else None
    if thr is not None:
        base_ev.append(f"threads {_fmt(thr)}")
    for (backend, sharing), row in at.iterrows():
        if backend == "threads":
            continue
        if sharing == "none":
            base_ev.append(f"{backend} {_fmt(row)}")
            if thr is not None:
                out[("its own interpreter (no input)", backend, state)] = more_than(row, thr)
        elif (backend, "none") in at.index:
            data_ev.append(f"{backend} {LABELS[sharing]} {_fmt(row)}")
            what = f"a {LABELS[sharing]} input"
            out[(what, backend, state)] = duplicated(row, at.loc[(backend, "none")])
    if ("threads", "inherited") in at.index:
        data_ev.insert(0, f"threads sharing it {_fmt(at.loc[('threads', 'inherited')])}")
    lines = [f"{state}, no input: " + "; ".join(base_ev)]
    if data_ev:
        lines.append(f"{state}, with the input: " + "; ".join(data_ev))
    return out, lines


def summary(scenarios: dict[Scenario, bool | None], value: bool | None) -> str:
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


def memory_verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    """C4: processes cost more per worker than threads, and a shared input is duplicated."""
    if table.empty:
        return []
    fits = table.drop_duplicates(["backend", "sharing", "state"]).set_index(
        ["backend", "sharing", "state"]
    )
    scenarios: dict[Scenario, bool | None] = {}
    evidence = []
    for state in ("idle", "working"):
        if state in fits.index.get_level_values("state"):
            s, ev = _decide(fits, state)
            scenarios.update(s)
            evidence += ev
    decided = {k: v for k, v in scenarios.items() if v is not None}
    ns = sorted(table.workers.unique())
    cores = int(table.cores.max())
    where = (
        f"N = {', '.join(map(str, ns))} workers on {cores} cores of {machine} (N > {cores}: "
        f"idle or lightly working workers); data PSS of the whole process tree; input "
        f"{table.input_mib.max():.0f} MiB; more = per-worker interval above threads' and "
        f"> {MIN_MIB:.0f} MiB more; duplicated = each worker adds >= {DUPLICATED:.0%} of the input"
    )
    if decided:
        verdict = combine_undecided({str(k): v for k, v in scenarios.items()})
        conditions = (
            f"{where}. Processes need more memory for {summary(scenarios, True)}. "
            f"Not for {summary(scenarios, False)}"
        )
    else:
        verdict = "inconclusive"
        conditions = f"{where}; no scenario decided (intervals overlap or fewer than 3 N)"
    if len(decided) < len(scenarios):
        conditions += f". Undecided: {summary(scenarios, None)}"
    evidence_text = "MiB per extra worker (data PSS: anonymous + shared memory) [95% CI]: "
    return [
        Verdict("C4", verdict, evidence_text + " | ".join(evidence), conditions, "memory", PLOT)
    ]
