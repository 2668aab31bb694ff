"""STREAM triad a = b + s*c in Numba nogil: a memory-bound kernel, reported in GB/s.

The arrays of a point are split into one chunk per task; a worker builds them once in
`prepare` (threads share one copy, each process has its own), and a task sweeps its
chunk REPS times. Bytes counted the STREAM way: 3 x 8 bytes per element per sweep.
Input values depend only on the global element index, so a chunk's result does not depend
on how many chunks the arrays hold.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numba
import numpy as np

from coresweep.kernels.base import Check, Kernel, Task

REPS = 10
SCALAR = 3.0


def inputs(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """b and c for global elements lo..hi."""
    idx = np.arange(lo, hi)
    return (idx % 1000) * 1e-3, 1.0 + (idx % 777) * 1e-3


@functools.lru_cache(maxsize=2)
def arrays(chunk: int, ntasks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = chunk * ntasks
    b, c = inputs(0, n)
    return np.zeros(n), b, c


@numba.njit(nogil=True, cache=True)
def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: float, reps: int) -> float:
    for _ in range(reps):
        for i in range(a.size):
            a[i] = b[i] + s * c[i]
    return a.sum()


@numba.njit(nogil=True, parallel=True, cache=True)
def _triad_prange(a, b, c, s, reps, chunk, ntasks):
    out = np.zeros(ntasks)
    for t in numba.prange(ntasks):
        lo = t * chunk
        out[t] = triad(a[lo : lo + chunk], b[lo : lo + chunk], c[lo : lo + chunk], s, reps)
    return out


_NTASKS: dict[int, int] = {}  # chunk size -> most chunks any workload of this worker needs


def prepare(size: int, ntasks: int, seed: int) -> None:
    _NTASKS[size] = max(_NTASKS.get(size, 0), ntasks)
    arrays(size, _NTASKS[size])


def _views(task: Task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, c = arrays(task.size, _NTASKS.get(task.size, task.index + 1))
    lo = task.index * task.size
    hi = lo + task.size
    return a[lo:hi], b[lo:hi], c[lo:hi]


def run(task: Task) -> float:
    a, b, c = _views(task)
    return float(triad(a, b, c, SCALAR, REPS))


def run_parallel(tasks: Sequence[Task]) -> list[float]:
    chunk = tasks[0].size
    a, b, c = arrays(chunk, max(_NTASKS.get(chunk, 0), len(tasks)))
    return [float(x) for x in _triad_prange(a, b, c, SCALAR, REPS, chunk, len(tasks))]


def compile_numba() -> None:
    z = np.zeros(4)
    triad(z.copy(), z, z, SCALAR, 1)


def compile_parallel() -> None:
    z = np.zeros(4)
    _triad_prange(z.copy(), z, z, SCALAR, 1, 2, 2)


def work(size: int) -> float:
    return 24.0 * size * REPS


def check(tasks: Sequence[Task], results: Sequence[float]) -> Check:
    """Each chunk's sum against NumPy's b + s*c on the same slice."""
    chunk = tasks[0].size
    worst = 0.0
    for t, r in zip(tasks, results, strict=True):
        b, c = inputs(t.index * chunk, (t.index + 1) * chunk)
        ref = float((b + SCALAR * c).sum())
        worst = max(worst, abs(r - ref) / max(abs(ref), 1e-300))
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
)
