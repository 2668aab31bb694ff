"""A Numba function compiled with nogil=True: it runs without the GIL once compiled.

The Gaussian-core pair energy of n particles at random positions in a periodic box, an
O(n²) pair loop with the minimum-image convention.
cache=True keeps the compiled code on disk, so spawned workers load it instead of
compiling it again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

PARTICLES = 1200


@numba.njit(nogil=True, cache=True)
def pair_energy(n: int, seed: int) -> float:
    """Total pair energy exp(-r²) of n particles uniform in a box at density 0.5."""
    np.random.seed(seed)
    side = (n / 0.5) ** (1.0 / 3.0)
    pos = np.random.random((n, 3)) * side
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r2 = 0.0
            for k in range(3):
                d = pos[i, k] - pos[j, k]
                d -= side * np.rint(d / side)  # minimum image
                r2 += d * d
            energy += math.exp(-r2)
    return energy


def make_tasks(ntasks: int, seed: int, size: int = PARTICLES) -> list[tuple[int, int]]:
    """ntasks configurations of `size` particles, seeds from SeedSequence(seed) (32-bit)."""
    seeds = np.random.SeedSequence(seed).generate_state(ntasks)
    return [(size, int(s)) for s in seeds]


def check(tasks: Sequence[tuple[int, int]], results: Sequence[float]) -> tuple[bool, str]:
    """Each energy is finite and the first equals a fresh run here (same seed, same answer)."""
    again = pair_energy(*tasks[0])
    ok = all(math.isfinite(r) for r in results) and again == results[0]
    return ok, f"first energy {results[0]:.6g}, recomputed {again:.6g}"
