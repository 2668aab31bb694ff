"""The one timer: wall time plus CPU time of the whole process tree."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psutil

T = TypeVar("T")


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process, its live descendants and reaped children."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    reaped = os.times()
    return total + reaped.children_user + reaped.children_system


@dataclass(frozen=True)
class Timing:
    """One timed call: wall seconds and CPU seconds of the process tree."""

    wall: float
    cpu: float


def timed(fn: Callable[[], T]) -> tuple[T, Timing]:
    """Run fn once; the process-tree scan happens outside the wall-clock window."""
    cpu0 = tree_cpu_seconds()
    t0 = time.perf_counter()
    out = fn()
    t1 = time.perf_counter()
    cpu1 = tree_cpu_seconds()
    return out, Timing(wall=t1 - t0, cpu=max(0.0, cpu1 - cpu0))
