"""Small user functions for tests/test_advise.py.

They live in a module of their own so spawned and forkserver workers can import them
(the tests put this directory on the spec's `path`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
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


# ---------------------------------------------------------------- task factories of each shape


def spin_list() -> list[tuple[int]]:
    """A factory without parameters: its own fixed list, used as given or cycled to ntasks."""
    return [(20_000,), (30_000,), (40_000,), (50_000,), (60_000,), (70_000,)]


def spin_count(ntasks: int) -> list[tuple[int]]:
    """A factory of ntasks only."""
    return [(1000 + i,) for i in range(ntasks)]


def spin_list_sized(size: int = 10) -> list[tuple[int]]:
    """No positional parameters, a size keyword: still the fixed-list form."""
    return [(size,), (size + 1,)]


def three_params(ntasks: int, seed: int, scale: float) -> list[tuple[int]]:
    """One required parameter too many for any accepted form."""
    return [(1,)] * ntasks


def keyword_only(ntasks: int, *, mode: str) -> list[tuple[int]]:
    """A required keyword-only parameter the caller cannot know."""
    return [(1,)] * ntasks


NOT_A_FACTORY = [(1,), (2,)]  # the list itself where the factory's name belongs


def returns_none(ntasks: int, seed: int) -> None:
    """Builds the tasks and forgets to return them."""
    [(i,) for i in range(ntasks)]


def returns_text() -> str:
    return "1,2,3"


def returns_empty() -> list[tuple[int]]:
    return []


def broken_list() -> list[tuple[int]]:
    raise FileNotFoundError("tasks.csv")


def apply(fn, x: int) -> int:
    """Calls fn(x): its tasks carry a function along."""
    return fn(x)


def lambda_tasks() -> list[tuple]:
    """Tasks pickle refuses (a lambda in each): process pools cannot receive them."""
    return [(tripled_lambda, i) for i in range(4)]


# ---------------------------------------------------------------- clean shutdown

_HELD: list = []


def spin_tidy(n: int) -> int:
    """spin(n); in a worker process it first makes a multiprocessing lock (a named
    semaphore, as Numba's init lock under forkserver is) and an exit handler that takes
    0.2 s (a log flush, say). A pool that lets its workers exit unlinks the semaphore;
    one that kills them leaves it to resource_tracker, which warns of a leak at exit."""
    if not _HELD and multiprocessing.parent_process() is not None:
        _HELD.append(multiprocessing.get_context("spawn").Lock())
        multiprocessing.util.Finalize(None, time.sleep, (0.2,), exitpriority=10)
    return spin(n)
