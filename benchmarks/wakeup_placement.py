"""Round trip of a multiprocessing.Event ping-pong (what the shm-event transport does) with
the two processes on one CPU and on two: `python benchmarks/wakeup_placement.py`.

On one CPU a wake-up hands the CPU straight to the partner; across CPUs the partner's CPU
must be woken from idle, which on a VM is an exit to the hypervisor. The unpinned
communication experiment gets whichever placement the scheduler picks, and keeps it for
seconds: its small-message round trips are bimodal by that much.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from typing import Any

ROUND_TRIPS = 3000


def _echo(ping: Any, pong: Any, cpu: int, n: int) -> None:
    os.sched_setaffinity(0, {cpu})
    for _ in range(n):
        ping.wait()
        ping.clear()
        pong.set()


def round_trip_seconds(mine: int, theirs: int, n: int = ROUND_TRIPS) -> float:
    ctx = mp.get_context("fork")
    ping, pong = ctx.Event(), ctx.Event()
    partner = ctx.Process(target=_echo, args=(ping, pong, theirs, n))
    partner.start()
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {mine})
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()
        return (time.perf_counter() - t0) / n
    finally:
        os.sched_setaffinity(0, before)
        partner.join()


if __name__ == "__main__":
    cpus = sorted(os.sched_getaffinity(0))
    a, b = cpus[0], cpus[-1]
    for mine, theirs in ((a, a), (a, b), (b, b)):
        us = 1e6 * round_trip_seconds(mine, theirs)
        print(f"this process on CPU {mine}, partner on CPU {theirs}: {us:.1f} us per round trip")
