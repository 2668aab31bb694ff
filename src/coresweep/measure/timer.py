"""The one timer: wall time plus CPU time of the whole process tree, in nanoseconds.

CPU time comes from each process's CPU clock (`clock_gettime` on the clock id Linux
derives from a pid, what `time.process_time()` reads for this process): nanoseconds, all
threads of the process including those that already ended. `/proc/<pid>/stat` (psutil's
`cpu_times`) ticks in 10 ms, ±25% over a 40 ms sample; `/proc/<pid>/schedstat` counts
nanoseconds but for the main thread only. Children already reaped count through
getrusage (microseconds).
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import psutil

T = TypeVar("T")
CPUCLOCK_SCHED = 2  # Linux: a process CPU clock id is (~pid << 3) | CPUCLOCK_SCHED


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (ns resolution) of every thread of process pid, dead threads included;
    0.0 for a process that is gone (its time then counts where it was reaped)."""
    try:
        return time.clock_gettime((~pid << 3) | CPUCLOCK_SCHED)
    except OSError:
        return 0.0


def _reaped_seconds() -> float:
    """CPU seconds of this process's children that ended and were waited for."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _descendants() -> list[int]:
    with contextlib.suppress(psutil.Error):
        return [p.pid for p in psutil.Process().children(recursive=True)]
    return []


def _others(pids: Iterable[int]) -> float:
    """CPU seconds of live descendants: each one's own clock plus the children it reaped (a
    forkserver or a Dask nanny outlives the point and waits for the workers it forked)."""
    return sum(process_cpu_seconds(pid) + _their_reaped_seconds(pid) for pid in pids)


def _their_reaped_seconds(pid: int) -> float:
    with contextlib.suppress(psutil.Error):
        t = psutil.Process(pid).cpu_times()
        return t.children_user + t.children_system
    return 0.0


def _own() -> float:
    return time.process_time() + _reaped_seconds()


def tree_cpu_seconds() -> float:
    """CPU seconds of this process, its live descendants and its reaped children."""
    return _own() + _others(_descendants())


@dataclass(frozen=True)
class Timing:
    """One timed call: wall seconds and CPU seconds of the process tree."""

    wall: float
    cpu: float


def timed(fn: Callable[[], T]) -> tuple[T, Timing]:
    """Run fn once; the process-tree scans stay outside both windows: this process's own
    clock is read after the scan at the start and before the scan at the end."""
    before = _descendants()
    cpu0 = _others(before) + _own()
    t0 = time.perf_counter()
    out = fn()
    t1 = time.perf_counter()
    own1 = _own()
    cpu1 = own1 + _others(_descendants())
    return out, Timing(wall=t1 - t0, cpu=max(0.0, cpu1 - cpu0))
