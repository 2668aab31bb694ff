"""Small user functions for tests/test_advise.py.

They live in a module of their own so spawned and forkserver workers can import them
(the tests put this directory on the spec's `path`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

PARENT_ENV = "USERFUNCS_PARENT_PID"  # set by the tests; workers inherit it


def spin(n: int) -> int:
    """Pure-Python integer work: holds the GIL."""
    total = 0
    for i in range(n):
        total = (total + i * i) % 1_000_003
    return total


def nap(seconds: float) -> float:
    """Sleeps: releases the GIL, so threads overlap perfectly."""
    time.sleep(seconds)
    return seconds


def nap_tasks(ntasks: int, seed: int, size: int | None = None) -> list[tuple[float]]:
    """ntasks naps of 5 ms (size ms when given)."""
    return [((size or 5) / 1000,)] * ntasks


def spin_tasks(ntasks: int, seed: int) -> list[tuple[int]]:
    return [(2000 + seed % 7,)] * ntasks


def broken_factory(ntasks: int, seed: int) -> list[tuple[int]]:
    raise RuntimeError("no input files found")


def check_naps(tasks: Sequence[tuple[float]], results: Sequence[float]) -> tuple[bool, str]:
    ok = [r for r in results] == [t[0] for t in tasks]
    return ok, f"{len(results)} naps"


def _in_parent() -> bool:
    return os.environ.get(PARENT_ENV) == str(os.getpid())


def double_in_parent_only(x: int) -> int:
    """Right in this process, off by one in any worker process: fails the check there."""
    return 2 * x if _in_parent() else 2 * x + 1


def check_doubled(tasks: Sequence[tuple[int]], results: Sequence[int]) -> bool:
    return list(results) == [2 * t[0] for t in tasks]


def fails_in_workers(x: int) -> int:
    """Raises in any worker process, runs in this one."""
    if not _in_parent():
        raise OSError("scratch directory not writable in this worker")
    return x


def make_scaled(k: int):
    def scaled(x: int) -> int:
        return k * x

    return scaled


scaled_closure = make_scaled(3)  # a closure: pickle refuses it, cloudpickle takes it
tripled_lambda = lambda x: 3 * x  # noqa: E731 - the point of the test


def spin_sized(ntasks: int, seed: int, size: int = 1000) -> list[tuple[int]]:
    """ntasks spins of `size` iterations: work linear in size (unit: sample)."""
    return [(size,)] * ntasks
