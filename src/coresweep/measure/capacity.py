"""How many cores the machine delivers right now, checked before and after every job.

On a shared host (a VM whose virtual CPUs compete with other guests) a single thread can
run at full speed while two threads get one core between them. A single-thread reference
cannot see that; this probe times the same GIL-free work on one thread and on all cores
at once: capacity = cores x (one-thread time) / (all-threads time), in cores.

A point pinned to one CPU probes that CPU only: the share of it that a thread pinned there
gets (its CPU clock over the wall clock of the same work); another program on that CPU, or
the hypervisor taking it, shows as a share below 1.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from coresweep.measure.sched import choose_cpu, pinned
from coresweep.measure.timer import timed

log = logging.getLogger("coresweep")

# ~60 ms of sin() over a cache-resident array: long enough that the head start Linux gives
# a freshly woken thread over a busy process (a few ms) does not hide the competition
PROBE_CALLS = 400
LOW = 0.85  # fraction of the cores below which the machine counts as contended


def _spin(calls: int = PROBE_CALLS) -> float:
    """Compute-bound NumPy work that releases the GIL inside every call."""
    a = np.linspace(0.0, 1.0, 16384)
    b = np.empty_like(a)
    t0 = time.perf_counter()
    for _ in range(calls):
        np.sin(a, out=b)
    return time.perf_counter() - t0


def capacity(cores: int, tries: int = 2) -> float:
    """Cores delivered now: cores x t(1 thread) / t(cores threads), each doing the same work.

    Best of `tries` for both timings: noise only ever slows a run down, so a short dip does
    not count; a machine that stays short of cores does.
    """
    if cores < 2:
        return float(cores)
    single = min(_spin() for _ in range(tries))
    start = threading.Barrier(cores)

    def run() -> float:
        start.wait()
        return _spin()

    with ThreadPoolExecutor(cores) as pool:
        together = min(max(pool.map(lambda _: run(), range(cores))) for _ in range(tries))
    return cores * single / together


def cpu_share(cpu: int | str, tries: int = 2) -> float:
    """The share of one CPU (0..1) a thread pinned to it gets now: CPU seconds / wall seconds
    of the probe's work, best of `tries`; cpu as protocol.probe_cpu gives it ("auto" or a
    CPU number, resolved here where the job runs)."""
    with pinned({choose_cpu(cpu)}):
        timings = [timed(_spin)[1] for _ in range(tries)]
    return min(1.0, max(t.cpu / t.wall for t in timings))


@dataclass(frozen=True)
class CapacityCheck:
    cores: int
    capacity: float  # cores delivered at the last probe
    waited_s: float  # time spent waiting for the machine to free up
    ok: bool  # capacity >= LOW x cores

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def check_capacity(
    cores: int, wait_seconds: float = 0.0, pause: float = 0.5, cpu: int | str | None = None
) -> CapacityCheck:
    """Probe; while below LOW x cores, wait up to wait_seconds for the machine to free up.

    cpu: the one CPU a pinned point runs on (protocol.probe_cpu); then only it is probed."""
    if cpu is not None:
        cores = 1

    def probe() -> float:
        return cpu_share(cpu) if cpu is not None else capacity(cores)

    t0 = time.monotonic()
    cap = probe()
    while cap < LOW * cores and time.monotonic() - t0 + pause <= wait_seconds:
        log.warning("the machine delivers %.2f of %d cores: waiting %.1f s", cap, cores, pause)
        time.sleep(pause)
        cap = probe()
    return CapacityCheck(cores, cap, time.monotonic() - t0, cap >= LOW * cores)
