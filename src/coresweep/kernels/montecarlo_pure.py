"""The pure-Python Monte Carlo kernel: a module that imports no NumPy and no Numba.

A subinterpreter worker imports the function it runs by reference; NumPy and Numba refuse
to load in one, so the pure-Python kernel lives apart from its Numba twin
(`coresweep.kernels.montecarlo`, which registers both and checks one against the other).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coresweep.kernels.base import Task

MASK = (1 << 64) - 1
MULT = 0x2545F4914F6CDD1D
SCALE = 2.0**-53


def _seed_state(seed: int) -> int:
    # xorshift must never start at zero
    return (seed & MASK) or 0x9E3779B97F4A7C15


def hits_python(samples: int, seed: int) -> int:
    """Points of the unit square inside the quarter circle, in pure Python."""
    x = _seed_state(seed)
    hits = 0
    for _ in range(samples):
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        u = (((x * MULT) & MASK) >> 11) * SCALE
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        v = (((x * MULT) & MASK) >> 11) * SCALE
        if u * u + v * v <= 1.0:
            hits += 1
    return hits


def run_python(task: Task) -> int:
    return hits_python(task.size, task.seed)
