"""The records of one `coresweep advise` sweep: a row per backend and core count (its
speedup estimate, its descriptor columns), the recommendation, and the whole advice.

Foundation: the measuring side (coresweep.experiments.advise) writes them, the advice rule
(coresweep.analysis.advice) and the printed form (coresweep.report.advice) read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from coresweep.stats import ratio_ci


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
