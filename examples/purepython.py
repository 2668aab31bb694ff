"""A pure-Python function: it holds the GIL the whole time it runs.

Total Collatz steps of the integers in [start, stop): integer arithmetic in an interpreted
loop, the kind of code threads cannot speed up in CPython and processes can.
"""

from __future__ import annotations

from collections.abc import Sequence

NUMBERS_PER_TASK = 1000


def collatz_steps(start: int, stop: int) -> int:
    """Sum over n in [start, stop) of the steps n takes to reach 1."""
    total = 0
    for n in range(start, stop):
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            total += 1
    return total


def make_tasks(ntasks: int, seed: int, size: int = NUMBERS_PER_TASK) -> list[tuple[int, int]]:
    """ntasks ranges of `size` integers each, placed by the seed; equal work per task."""
    base = 1_000_000 + (seed % 1000) * size
    return [(base + i * size, base + (i + 1) * size) for i in range(ntasks)]


def fixed_tasks() -> list[tuple[int, int]]:
    """A factory without parameters, the form many write first: its own list of 24 ranges,
    used as given (`--ntasks`, or an experiment that asks for a count, cycles it)."""
    base, size = 1_000_000, NUMBERS_PER_TASK
    return [(base + i * size, base + (i + 1) * size) for i in range(24)]


def check(tasks: Sequence[tuple[int, int]], results: Sequence[int]) -> tuple[bool, str]:
    """Every result recomputed here must match, spot-checked on the first and last task."""
    for i in {0, len(tasks) - 1}:
        if collatz_steps(*tasks[i]) != results[i]:
            return False, f"task {i} {tasks[i]}: got {results[i]}"
    return True, f"{len(results)} results, first {results[0]}"
