"""Scheduler controls and counters: CPU pinning, the GIL switch interval, context switches.

Every control is a context manager that restores the previous setting, also on an
exception or Ctrl-C, so a measurement never leaves the process pinned or with an odd
switch interval.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from coresweep.measure.cores import affinity


@contextlib.contextmanager
def pinned(cpus: Iterable[int]) -> Iterator[set[int]]:
    """Pin the calling thread to cpus; threads and processes started inside inherit it.

    Linux applies `sched_setaffinity(0, ...)` to the calling thread only, so start the
    workers to be pinned inside the block.
    """
    before = os.sched_getaffinity(0)
    target = set(cpus)
    os.sched_setaffinity(0, target)
    try:
        yield target
    finally:
        os.sched_setaffinity(0, before)


def choose_cpu(spec: int | str) -> int:
    """The CPU to pin to: "auto" = the last usable CPU (the first one gets most interrupts)."""
    usable = affinity()
    if spec == "auto":
        return usable[-1]
    cpu = int(spec)
    if cpu not in usable:
        raise ValueError(f"CPU {cpu} is not in this process's affinity {usable}")
    return cpu


@contextlib.contextmanager
def switch_interval(seconds: float) -> Iterator[float]:
    """Set the GIL switch interval (how long a thread may hold the GIL while others wait)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield seconds
    finally:
        sys.setswitchinterval(before)


@dataclass(frozen=True)
class CtxSwitches:
    """Voluntary (blocked, yielded) and involuntary (preempted) context switches."""

    voluntary: int = 0
    involuntary: int = 0

    def __add__(self, other: CtxSwitches) -> CtxSwitches:
        return CtxSwitches(self.voluntary + other.voluntary, self.involuntary + other.involuntary)

    def __sub__(self, other: CtxSwitches) -> CtxSwitches:
        return CtxSwitches(self.voluntary - other.voluntary, self.involuntary - other.involuntary)


def _task_switches(status: Path) -> CtxSwitches:
    counts = {"voluntary_ctxt_switches": 0, "nonvoluntary_ctxt_switches": 0}
    with contextlib.suppress(OSError):
        for line in status.read_text().splitlines():
            key, _, value = line.partition(":")
            if key in counts:
                counts[key] = int(value)
    return CtxSwitches(counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"])


def ctx_switches(pids: Iterable[int]) -> CtxSwitches:
    """Context switches of every thread of the given processes, from /proc/<pid>/task/*/status.

    psutil's num_ctx_switches() reads the main thread only; threads switch on their own.
    """
    total = CtxSwitches()
    for pid in pids:
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            total = total + _task_switches(status)
    return total
