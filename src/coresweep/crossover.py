"""Where parallel starts to pay: crossover task size, per-task overhead, cold-start break-even."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BELOW = "below-range"  # wins already at the smallest task measured
INTERPOLATED = "interpolated"
NEVER = "never"  # does not win even at the largest task measured


@dataclass(frozen=True)
class Crossover:
    """The task size above which a backend beats serial, and how it was found."""

    seconds: float  # nan when it never wins; the smallest size when it always wins
    status: str


def crossover(sizes: Sequence[float], lower: Sequence[float], level: float = 1.0) -> Crossover:
    """Smallest size above which every measured lower bound exceeds level, log-interpolated.

    A speedup CI lower bound that dips below 1 somewhere above another win counts: the
    crossover is after the last size that does not win.
    """
    order = np.argsort(np.asarray(sizes, dtype=float))
    x = np.asarray(sizes, dtype=float)[order]
    y = np.asarray(lower, dtype=float)[order]
    wins = y > level
    if x.size == 0 or not wins[-1]:
        return Crossover(math.nan, NEVER)
    if wins.all():
        return Crossover(float(x[0]), BELOW)
    i = int(np.flatnonzero(~wins)[-1])
    fx = np.log([x[i], x[i + 1]])
    fy = np.log(np.maximum([y[i], y[i + 1]], 1e-12)) - math.log(level)
    t = -fy[0] / (fy[1] - fy[0]) if fy[1] != fy[0] else 0.5
    return Crossover(float(math.exp(fx[0] + t * (fx[1] - fx[0]))), INTERPOLATED)


def overhead_fit(
    ntasks: Sequence[float], serial: Sequence[float], parallel: Sequence[float]
) -> tuple[float, float]:
    """Least squares t_parallel = ntasks x overhead + t_serial / p_eff: (overhead s, p_eff)."""
    a = np.column_stack([np.asarray(ntasks, float), np.asarray(serial, float)])
    b = np.asarray(parallel, float)
    if a.shape[0] < 2 or np.linalg.matrix_rank(a) < 2:
        return math.nan, math.nan
    (overhead, inv_p), *_ = np.linalg.lstsq(a, b, rcond=None)
    return float(overhead), float(1 / inv_p) if inv_p > 0 else math.nan


def break_even(start_seconds: float, speedup: float) -> float:
    """Serial work above which a cold pool pays for its start: W > start + W / S."""
    if not speedup > 1:
        return math.inf
    return start_seconds * speedup / (speedup - 1)
