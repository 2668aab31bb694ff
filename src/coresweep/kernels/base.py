"""The kernel interface: a pure function over one task, plus how to make and check tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    """One unit of work: its index in the decomposition, its size and its own seed."""

    index: int
    size: int
    seed: int


@dataclass(frozen=True)
class Check:
    """Outcome of a reference check."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class Kernel:
    """A kernel family member. Every callable is a module-level function, so it pickles.

    kind says what limits it: "python" holds the GIL, "nogil" is compiled and releases it,
    "blas" calls a BLAS that releases it, "memory" is bound by memory bandwidth.
    """

    name: str
    kind: str
    unit: str  # what `work` counts: "sample", "flop", "byte"
    run: Callable[[Any], Any]
    work: Callable[[int], float]  # units of work in one task of the given size
    check: Callable[[Sequence[Any], Sequence[Any]], Check]
    prepare: Callable[[int, int, int], None] | None = None  # (size, chunks, seed), per worker
    compile: Callable[[], None] | None = None  # JIT compile or load from cache, timed apart
    run_parallel: Callable[[Sequence[Any]], list[Any]] | None = None  # numba prange batch
    # compiles and runs the prange version once; starts Numba's thread pool, which is not
    # fork-safe, so it runs only in processes that never fork afterwards
    compile_parallel: Callable[[], None] | None = None
    description: str = ""
    # Facts the planner uses; declared, never timed at plan time, so a dry run on a login
    # node plans exactly the points the compute node will measure.
    #: nominal units of work per second on one core (a ~2.6 GHz x86 server core); sizes
    #: strong-scaling tasks to a time budget and predicts a point's duration (None: unknown)
    rate: float | None = None
    #: bytes of read-only inputs one process holds for all its workers (threads of the
    #: process share them; a fork child shares its parent's copy), by task size
    input_bytes: Callable[[int], float] | None = None
    #: bytes each worker (thread or process) holds while it runs one task, by task size
    task_bytes: Callable[[int], float] | None = None
    #: whether running it loads Numba's JIT (LLVM) into the process: its memory per process
    jit: bool = False
    #: its run (and the tasks it takes) imports nothing a subinterpreter refuses: NumPy,
    #: Numba and most C extensions do not load in one (single-phase init), so only kernels
    #: that declare this run on an execution model whose isolation is "interpreter"
    subinterpreter_safe: bool = False

    def make_tasks(self, size: int, ntasks: int, seed: int) -> list[Task]:
        return make_tasks(size, ntasks, seed)

    def memory_bytes(self, size: int) -> tuple[float, float]:
        """(inputs held once per process, bytes per worker running a task) at this size."""
        inputs = self.input_bytes(size) if self.input_bytes else 0.0
        per_task = self.task_bytes(size) if self.task_bytes else 0.0
        return inputs, per_task

    def seconds_per_task(self, size: int) -> float | None:
        """Nominal seconds of one task on one core, from `rate` (None when unknown)."""
        return self.work(size) / self.rate if self.rate else None


def make_tasks(size: int, ntasks: int, seed: int) -> list[Task]:
    """Tasks with per-task seeds from SeedSequence(seed).spawn(ntasks): same on every backend."""
    # imported here: a subinterpreter worker unpickles Task from this module without NumPy
    import numpy as np

    children = np.random.SeedSequence(seed).spawn(ntasks)
    return [
        Task(index=i, size=size, seed=int(c.generate_state(1, dtype=np.uint64)[0]))
        for i, c in enumerate(children)
    ]
