"""The advice rule: from one sweep's rows (backend x core count) to one recommendation.

Pure functions on records, so every path can be tested on fixed samples. The rule: at the
most cores measured, among the ways of running that are significantly faster than a plain
loop, take the cheapest whose interval overlaps the fastest one — shared memory before
processes, one task per dispatch before batches, then the cheaper start.

Like every analysis, it reads what the rows carry: each row holds its backend's descriptor
columns (backend_isolation, backend_shares_memory, ...), and the rule selects by them,
never by a backend's name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from coresweep.advice_records import Estimate, Recommendation, Row
from coresweep.analysis.verdicts import THRESHOLD
from coresweep.units import fmt_bytes, fmt_seconds

OVERHEAD_SHARE = 0.1  # a recommended batch spends at most this share of its time on dispatch
GIL_HOLDS = 0.15  # threads gained < 15% of the ideal extra speed: the GIL serialises them
GIL_RELEASES = 0.5  # threads gained > 50% of it: the function runs without the GIL


def _at(rows: Sequence[Row], p: int, ok_only: bool = True) -> list[Row]:
    return [r for r in rows if r.p == p and (r.status == "ok" or not ok_only) and r.speedup]


def thread_estimate(rows: Sequence[Row], p: int) -> tuple[Estimate, str] | None:
    """How much faster p threads under one GIL ran, and against what.

    Of several such backends, the one with the cheapest dispatch: its overhead hides the
    least of what the GIL does. Against 1 worker of the same backend when that was
    measured: it isolates the GIL from dispatch cost and from anything else that differs
    between a pool thread and the main thread. Otherwise against the plain loop, batched or
    not, whichever was faster.
    """
    threads = [r for r in _at(rows, p) if r.gil_threads]
    if not threads:
        return None
    r = min(threads, key=lambda t: math.inf if t.dispatch_s is None else t.dispatch_s)
    one = [o for o in _at(rows, 1) if o.backend == r.backend and "work" in o.samples]
    if one and "work" in r.samples:
        return Estimate.ratio(one[0].samples["work"], r.samples["work"]), "1 thread"
    best = max((e for e in (r.speedup, r.batched) if e), key=lambda e: e.value)
    return best, "a plain loop"


@dataclass(frozen=True)
class GilFinding:
    """What threads at p showed: releases (True), holds (False) or cannot tell (None)."""

    p: int
    est: Estimate | None
    releases: bool | None
    partly: bool = False
    against: str = "a plain loop"

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> GilFinding:
        ps = [r.p for r in rows if r.status == "ok" and r.p > 1 and r.gil_threads]
        if not ps:
            return cls(1, None, None)
        p = max(ps)
        found = thread_estimate(rows, p)
        if found is None:
            return cls(1, None, None)
        est, against = found
        ideal = p - 1
        if est.hi < 1 + GIL_HOLDS * ideal:
            return cls(p, est, False, against=against)
        if est.lo > 1 + GIL_RELEASES * ideal:
            return cls(p, est, True, against=against)
        if est.lo > 1 + GIL_HOLDS * ideal:
            return cls(p, est, True, partly=True, against=against)
        return cls(p, est, None, against=against)

    def phrase(self) -> str:
        if self.est is None:
            return "was not run in threads at p >= 2"
        if self.releases is None:
            return "may or may not release the GIL"
        if not self.releases:
            return "holds the GIL"
        return "releases the GIL only in part" if self.partly else "releases the GIL"

    def evidence(self) -> str:
        if self.est is None:
            return "no thread runs"
        return f"{self.p} threads ran {self.est.text()} against {self.against}"


def gil_verdict(rows: Sequence[Row], note: bool | None) -> str:
    """What the thread runs show about the GIL, and whether the user's note agrees."""
    g = GilFinding.from_rows(rows)
    if g.est is None:
        return "not measured: no thread backend ran at p >= 2"
    text = f"your function {g.phrase()} ({g.evidence()})"
    if note is not None and g.releases is not None:
        agree = "agree" if note == g.releases else "disagree"
        text += f"; you noted releases_gil: {str(note).lower()}, the runs {agree}"
    return text


@dataclass(frozen=True)
class _Variant:
    row: Row
    batched: bool
    est: Estimate

    def family(self) -> tuple[bool, bool]:
        # shared memory first, then no batching needed
        return (not self.row.in_process, self.batched)


def batch_advice(task_s: float, dispatch_s: float) -> int:
    """Smallest batch that spends at most OVERHEAD_SHARE of its time on dispatch (1: none)."""
    if task_s <= 0:
        return 1
    return max(1, math.ceil((1 - OVERHEAD_SHARE) / OVERHEAD_SHARE * dispatch_s / task_s))


def recommend(rows: Sequence[Row], task_s: float, threshold: float = THRESHOLD) -> Recommendation:
    """The cheapest way to run that is as fast as the fastest, at the most cores measured."""
    pmax = max((r.p for r in rows), default=1)
    if pmax < 2:
        return Recommendation(
            "serial", 0, "serial", "only 1 core was measured; workers cannot beat a plain loop"
        )
    top = _at(rows, pmax)
    # a batched run counts only where dispatch is a real cost: elsewhere a gain is noise
    variants = [_Variant(r, False, r.speedup) for r in top if r.speedup] + [
        _Variant(r, True, r.batched)
        for r in top
        if r.batched and batch_advice(task_s, r.dispatch_s or 0.0) > 1
    ]
    good = [v for v in variants if v.est.gain(threshold)]
    if not good:
        return _serial_advice(top, variants, task_s, pmax)
    best = max(good, key=lambda v: v.est.value)
    close = [v for v in good if v.est.overlaps(best.est)]
    cheapest = min(v.family() for v in close)
    pick = max((v for v in close if v.family() == cheapest), key=lambda v: v.est.value)
    return _advice_for(pick, rows, top, task_s, pmax)


def _serial_advice(
    top: list[Row], variants: list[_Variant], task_s: float, pmax: int
) -> Recommendation:
    if not variants:
        return Recommendation("serial", 0, "serial", f"no backend ran correctly at p={pmax}")
    best = max(variants, key=lambda v: v.est.value)
    what = f"{best.row.backend}{' in batches' if best.batched else ''}"
    costs = " / ".join(
        f"{fmt_seconds(r.dispatch_s)} ({r.backend})" for r in _cheapest_dispatch(top).values()
    )
    return Recommendation(
        "serial",
        0,
        "serial",
        f"nothing ran significantly faster than a plain loop on {pmax} cores "
        f"(best: {what} {best.est.text()}); each task takes {fmt_seconds(task_s)}"
        + (f" and dispatch costs {costs} per task" if costs else ""),
    )


def _cheapest_dispatch(top: Sequence[Row]) -> dict[bool, Row]:
    """The in-process and the separate-process row with the lowest dispatch cost."""
    out: dict[bool, Row] = {}
    for r in sorted((r for r in top if r.dispatch_s is not None), key=lambda r: r.dispatch_s or 0):
        out.setdefault(r.in_process, r)
    return out


#: what one worker is called, by the descriptor's isolation
WORKERS = {"inline": "loop", "thread": "threads", "interpreter": "interpreters",
           "process": "processes", "cluster": "cluster workers"}  # fmt: skip


def _workers(row: Row) -> str:
    return f"{row.p} {WORKERS.get(row.isolation, 'workers')} ({row.backend})"


def _extras(row: Row) -> str:
    mem = fmt_bytes(row.extra_mib * 2**20) if row.extra_mib is not None else "unknown"
    return f"starts in {fmt_seconds(row.start_s)}, {mem} extra memory"


def _advice_for(
    pick: _Variant, rows: Sequence[Row], top: list[Row], task_s: float, pmax: int
) -> Recommendation:
    row = pick.row
    size = batch_advice(task_s, row.dispatch_s or 0.0) if pick.batched else 0
    headline = row.backend + (f", in batches of ≥ {size} tasks" if size else "")
    gil = GilFinding.from_rows(rows)
    unbatched = row.speedup.text() if row.speedup else "–"
    if pick.batched:
        reason = (
            f"each task takes {fmt_seconds(task_s)} and {row.backend} dispatch costs "
            f"{fmt_seconds(row.dispatch_s)} per task; one task at a time ran {unbatched}, "
            f"one batch of {row.batch_size} per worker ran {pick.est.text()} on {pmax} cores"
        )
    elif row.in_process:
        vs_one = f"; {gil.evidence()}" if gil.against != "a plain loop" else ""
        reason = (
            f"your function {gil.phrase()} ({_workers(row)} ran {pick.est.text()} "
            f"against a plain loop{vs_one})"
        )
    else:
        reason = (
            f"your function {gil.phrase()} ({gil.evidence()}); "
            f"{_workers(row)} ran {pick.est.text()} against a plain loop"
        )
    procs = [r for r in top if not r.in_process and r.speedup is not None]
    if row.in_process and procs and not pick.batched:  # why not processes, in figures
        alt = max(procs, key=lambda r: r.speedup.value if r.speedup else 0.0)
        alt_s = alt.speedup.text() if alt.speedup else "–"
        reason += f"; processes were no faster ({alt.backend} {alt_s}, {_extras(alt)})"
    if not row.in_process:
        reason += f"; the pool {_extras(row)}"
    return Recommendation(row.backend, size, headline, reason)
