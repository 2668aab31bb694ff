"""A short fixed reference workload timed at the start and end of every measurement job."""

from __future__ import annotations

import functools
import time

import numpy as np

#: many short runs rather than a few long ones: the best of them misses a brief
#: interruption (another process's time slice) that a long run cannot avoid. With 15 the
#: best of two calls 0.3 s apart differed by > 5% in 14 of 120 pairs here, with 40 in 1
REFERENCE_REPEATS = 40


def _reference_work(a: np.ndarray, out: np.ndarray) -> float:
    # a little interpreter work and a little memory traffic: what the kernels stress. The
    # arrays are allocated outside the timing: a 1.6 MB allocation inside it was served by
    # mmap (400 page faults) or from the heap depending on what the process had freed
    # before (glibc's adaptive mmap threshold), which read as a 35% change of speed after
    # every BLAS or triad point
    acc = 0
    for i in range(40_000):
        acc += i * i % 7
    np.multiply(a, 1.5, out=out)
    np.add(out, 2.0, out=out)
    return float(acc) + float(out.sum())


@functools.cache
def _buffers() -> tuple[np.ndarray, np.ndarray]:
    """The reference's arrays, one pair per process: the start and the end of a point time
    the very same pages (fresh ones per call read up to 13% slower on the first call)."""
    a = np.arange(200_000, dtype=np.float64)
    return a, a.copy()


def reference_seconds() -> float:
    """Best of many timings of the reference workload (~3 ms each, ~0.1 s in all)."""
    a, out = _buffers()
    best = float("inf")
    for _ in range(REFERENCE_REPEATS):
        t0 = time.perf_counter()
        _reference_work(a, out)
        best = min(best, time.perf_counter() - t0)
    return best


def drift(start: float, end: float) -> float:
    """Relative change of the reference time over a job (positive = got slower)."""
    return end / start - 1.0
