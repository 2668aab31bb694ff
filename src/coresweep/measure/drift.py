"""A short fixed reference workload timed at the start and end of every measurement job."""

from __future__ import annotations

import time

import numpy as np

#: many short runs rather than a few long ones: the best of them misses a brief
#: interruption (another process's time slice) that a long run cannot avoid
REFERENCE_REPEATS = 15


def _reference_work() -> float:
    # a little interpreter work and a little memory traffic: what the kernels stress
    acc = 0
    for i in range(40_000):
        acc += i * i % 7
    a = np.arange(200_000, dtype=np.float64)
    return float(acc) + float((a * 1.5 + 2.0).sum())


def reference_seconds() -> float:
    """Best of many timings of the reference workload (~3 ms each, ~50 ms in all)."""
    best = float("inf")
    for _ in range(REFERENCE_REPEATS):
        t0 = time.perf_counter()
        _reference_work()
        best = min(best, time.perf_counter() - t0)
    return best


def drift(start: float, end: float) -> float:
    """Relative change of the reference time over a job (positive = got slower)."""
    return end / start - 1.0
