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
from dataclasses import asdict, dataclass, field
from typing import Any

from coresweep.analysis.verdicts import THRESHOLD
from coresweep.stats import ratio_ci
from coresweep.units import fmt_bytes, fmt_seconds

OVERHEAD_SHARE = 0.1  # a recommended batch spends at most this share of its time on dispatch
GIL_HOLDS = 0.15  # threads gained < 15% of the ideal extra speed: the GIL serialises them
GIL_RELEASES = 0.5  # threads gained > 50% of it: the function runs without the GIL


@dataclass(frozen=True)
class Estimate:
    """A ratio (speedup) with its 95% bootstrap interval."""

    value: float
    lo: float
    hi: float

    @classmethod
    def ratio(cls, num: Sequence[float], den: Sequence[float]) -> Estimate:
        return cls(*ratio_ci(num, den))

    def gain(self, threshold: float) -> bool:
        """Significantly faster: interval above 1 and more than threshold above it."""
        return self.lo > 1 and self.value > 1 + threshold

    def overlaps(self, other: Estimate) -> bool:
        return self.hi >= other.lo and other.hi >= self.lo

    def text(self) -> str:
        return f"{self.value:.2f}× [{self.lo:.2f}–{self.hi:.2f}]"


@dataclass
class Row:
    """One backend at one core count."""

    backend: str
    p: int
    status: str = "ok"  # ok | check-failed | failed | skipped
    reason: str = ""
    speedup: Estimate | None = None
    batched: Estimate | None = None  # one batch per worker
    batch_size: int = 0
    seconds: float | None = None  # median wall of one pass over all tasks
    serial_seconds: float | None = None  # its paired plain-loop median
    dispatch_s: float | None = None  # per task, from the no-op pass
    start_s: float | None = None
    extra_mib: float | None = None  # peak process-tree PSS above this process before start
    same_as_serial: bool | None = None
    others_cpu_share: float | None = None  # of all CPUs' time, used by other programs meanwhile
    check: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    #: the backend's descriptor as table columns (backend_isolation, ...); only a skipped
    #: row of a backend that is not registered has none
    descriptor: dict[str, Any] = field(default_factory=dict)

    @property
    def efficiency(self) -> float | None:
        return None if self.speedup is None else self.speedup.value / self.p

    def fact(self, name: str) -> Any:
        """The descriptor column backend_<name> of this row's backend."""
        try:
            return self.descriptor[f"backend_{name}"]
        except KeyError:
            raise ValueError(
                f"row {self.backend} p={self.p} carries no descriptor column backend_{name}"
            ) from None

    @property
    def isolation(self) -> str:
        return str(self.fact("isolation"))

    @property
    def in_process(self) -> bool:
        """Workers share this process's memory (threads, or the plain loop itself)."""
        return bool(self.fact("shares_memory"))

    @property
    def gil_threads(self) -> bool:
        """Threads of this process under one GIL, one task per call: what shows the GIL."""
        return (
            self.isolation == "thread" and bool(self.fact("gil_bound")) and not self.fact("batch")
        )


@dataclass(frozen=True)
class Recommendation:
    backend: str  # "serial" or a backend name
    batch_size: int  # 0: one task per dispatch is fine
    headline: str
    reason: str

    def text(self) -> str:
        return f"{self.headline}: {self.reason}"


@dataclass
class Advice:
    """Everything one sweep found; asdict() of it is the JSON for scripts."""

    callable: str
    tasks_from: str
    ntasks: int
    cores: list[int]
    task_seconds: float = float("nan")  # one task in the plain loop (median)
    first_call_s: float = float("nan")  # the first call: imports, JIT compilation
    rows: list[Row] = field(default_factory=list)
    gil: str = ""
    recommendation: Recommendation | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    machine: str = ""
    load_average: list[float] = field(default_factory=list)
    others_cpu_share: float = 0.0  # the largest share any row saw other programs use
    elapsed_s: float = 0.0
    budget_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for row, out in zip(self.rows, d["rows"], strict=True):
            out["efficiency"] = row.efficiency
        if self.recommendation is not None:
            d["recommendation"]["text"] = self.recommendation.text()
        return d


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
