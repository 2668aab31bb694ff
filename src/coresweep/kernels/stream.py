"""STREAM triad a = b + s*c in Numba nogil: a memory-bound kernel, reported in GB/s.

Every worker owns one set of arrays a, b, c of `size` elements, built on its first task
(the discarded warm-up): a thread backend's threads each have their own set, each process
its own (a fork child builds a fresh set rather than sharing its parent's, so no two
workers stream the same pages). `prepare` builds nothing: a worker's init may run in
another thread than its tasks (Dask runs it in the worker's event loop) and would leave a
set behind that no task uses. A task sweeps its worker's arrays REPS times with its own
scalar, so a worker holds one task's arrays however many tasks the point has. Bytes
counted the STREAM way: 3 x 8 bytes per element per sweep. The inputs depend only on the
element index and the scalar only on the task index, so a task's result is the same on
every backend and in every decomposition.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numba
import numpy as np

from coresweep.kernels.base import Check, Kernel, Task

REPS = 10
SCALAR = 3.0
#: nominal bytes/s of one core streaming from memory (~24 GB/s measured on a 2.6 GHz Xeon
#: and on a shared EPYC VM); sizes tasks, never timed at plan time
RATE = 2.5e10


def inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """b and c of a worker's arrays (the same in every worker), built in place: no
    temporaries beside them, so a worker's memory is its three arrays."""
    b = np.arange(n, dtype=np.float64)  # exact integers: % and * round as on int indices
    np.remainder(b, 1000.0, out=b)
    b *= 1e-3
    c = np.arange(n, dtype=np.float64)
    np.remainder(c, 777.0, out=c)
    c *= 1e-3
    c += 1.0
    return b, c


def scalar(index: int) -> float:
    """The scalar of task `index`: exact in binary, different for neighbouring tasks."""
    return SCALAR + (index % 64) * 0.125


_OWN = threading.local()  # this thread's (pid, size, a, b, c)
_SLOTS: dict[str, tuple[tuple[int, int, int], np.ndarray, np.ndarray, np.ndarray]] = {}


def arrays(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The calling worker's a, b, c (built on first use; one size at a time per thread).

    Keyed by pid too: a fork child inherits its parent's thread-local values and must not
    share (or write into) the parent's pages.
    """
    own = getattr(_OWN, "arrays", None)
    if own is None or own[0] != (os.getpid(), size):
        _OWN.arrays = None  # drop an old set before building the next
        b, c = inputs(size)
        _OWN.arrays = ((os.getpid(), size), np.zeros(size), b, c)
    return _OWN.arrays[1:]


def slot_arrays(size: int, nslots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row of a, b, c per Numba thread of the prange batch (kept for one shape)."""
    key = (os.getpid(), size, nslots)
    held = _SLOTS.get("batch")
    if held is None or held[0] != key:
        _SLOTS.pop("batch", None)
        b, c = inputs(size)
        _SLOTS["batch"] = (
            key,
            np.zeros((nslots, size)),
            np.tile(b, (nslots, 1)),
            np.tile(c, (nslots, 1)),
        )
    return _SLOTS["batch"][1:]


@numba.njit(nogil=True, cache=True)
def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: float, reps: int) -> float:
    for _ in range(reps):
        for i in range(a.size):
            a[i] = b[i] + s * c[i]
    return a.sum()


@numba.njit(nogil=True, parallel=True, cache=True)
def _triad_slots(a2, b2, c2, scalars, reps):
    # one slot (row of arrays) per thread; slot k runs tasks k, k + nslots, ...
    nslots = a2.shape[0]
    out = np.zeros(scalars.size)
    for k in numba.prange(nslots):
        for t in range(k, scalars.size, nslots):
            out[t] = triad(a2[k], b2[k], c2[k], scalars[t], reps)
    return out


def prepare(size: int, ntasks: int, seed: int) -> None:
    """Nothing ahead of the tasks: each worker thread builds its arrays on its first task."""


def run(task: Task) -> float:
    a, b, c = arrays(task.size)
    return float(triad(a, b, c, scalar(task.index), REPS))


def run_parallel(tasks: Sequence[Task]) -> list[float]:
    a, b, c = slot_arrays(tasks[0].size, max(1, min(numba.get_num_threads(), len(tasks))))
    scalars = np.array([scalar(t.index) for t in tasks])
    return [float(x) for x in _triad_slots(a, b, c, scalars, REPS)]


def compile_numba() -> None:
    z = np.zeros(4)
    triad(z.copy(), z, z, SCALAR, 1)


def compile_parallel() -> None:
    z = np.zeros((2, 4))
    _triad_slots(z.copy(), z, z, np.array([SCALAR, SCALAR]), 1)


def work(size: int) -> float:
    return 24.0 * size * REPS


def task_bytes(size: int) -> float:
    """a, b and c of one worker."""
    return 3 * 8.0 * size


def _reference(b: np.ndarray, c: np.ndarray, s: float) -> float:
    """sum(b + s*c) by NumPy, a block at a time (no temporary the size of the arrays)."""
    step = 1 << 16
    return float(sum((b[i : i + step] + s * c[i : i + step]).sum() for i in range(0, b.size, step)))


def check(tasks: Sequence[Task], results: Sequence[float]) -> Check:
    """Each task's sum against NumPy's b + s*c with the task's scalar (this thread's b, c)."""
    _, b, c = arrays(tasks[0].size)
    refs: dict[float, float] = {}
    worst = 0.0
    for t, r in zip(tasks, results, strict=True):
        s = scalar(t.index)
        if s not in refs:
            refs[s] = _reference(b, c, s)
        worst = max(worst, abs(r - refs[s]) / max(abs(refs[s]), 1e-300))
    return Check(worst < 1e-9, f"max rel err {worst:.2e}")


TRIAD = Kernel(
    name="triad",
    kind="memory",
    unit="byte",
    run=run,
    work=work,
    check=check,
    prepare=prepare,
    compile=compile_numba,
    run_parallel=run_parallel,
    compile_parallel=compile_parallel,
    description="STREAM triad, Numba nogil, memory-bound",
    rate=RATE,
    task_bytes=task_bytes,
    jit=True,
)
