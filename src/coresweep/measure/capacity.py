"""How many cores the machine delivers right now, checked before and after every job.

On a shared host (a VM whose virtual CPUs compete with other guests) a single thread can
run at full speed while two threads get one core between them. A single-thread reference
cannot see that; this probe times the same GIL-free work on one thread and on all cores
at once: capacity = cores x (one-thread time) / (all-threads time), in cores.

A point pinned to one CPU probes that CPU only: the share of it that a thread pinned there
gets (its CPU clock over the wall clock of the same work); another program on that CPU, or
the hypervisor taking it, shows as a share below 1.

The probes see the machine just before and just after a point; `CpuLedger` sees it while the
point runs: the CPU time that other programs took and that the hypervisor stole on the
point's CPUs over the point's wall time (`during`). A burst of load that starts after the
first probe and ends before the second is measured too, and by its size.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import psutil

from coresweep.measure.cores import affinity
from coresweep.measure.sched import choose_cpu, pinned
from coresweep.measure.timer import timed, tree_cpu_seconds

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
    waited_s: float  # time spent waiting for the machine to free up (0: it was free)
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
    cap, waited = probe(), 0.0
    while cap < LOW * cores and time.monotonic() - t0 + pause <= wait_seconds:
        log.warning("the machine delivers %.2f of %d cores: waiting %.1f s", cap, cores, pause)
        time.sleep(pause)
        waited += pause
        cap = probe()
    return CapacityCheck(cores, cap, waited, cap >= LOW * cores)


#: CPU counters advance in clock ticks: a difference of two readings of n CPUs is exact to
#: about n ticks each way; beyond that, tick-sampled busy time and this process's exact CPU
#: clock differ by a few per cent of the latter
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
OWN_SLACK = 0.03


@dataclass(frozen=True)
class CpuLedger:
    """CPU seconds so far on a set of CPUs: busy (any program), stolen by the hypervisor, and
    this process tree's own (`timer.tree_cpu_seconds`)."""

    cpus: tuple[int, ...]
    busy: float
    steal: float
    own: float
    wall: float

    @classmethod
    def now(cls, cpu: int | str | None = None) -> CpuLedger | None:
        """The counters of this process's CPUs (or of the one CPU a pinned point runs on);
        None where the system keeps no per-CPU counters."""
        try:
            per_cpu = psutil.cpu_times(percpu=True)
        except (AttributeError, NotImplementedError, OSError):
            return None
        cpus = tuple(affinity()) if cpu is None else (choose_cpu(cpu),)
        if not per_cpu or max(cpus) >= len(per_cpu):
            return None
        times = [per_cpu[c] for c in cpus]
        return cls(
            cpus,
            busy=sum(_busy(t) for t in times),
            steal=sum(getattr(t, "steal", 0.0) for t in times),
            own=tree_cpu_seconds(),
            wall=time.monotonic(),
        )


def _busy(t: object) -> float:
    # guest time is already inside user time on Linux; iowait is idle
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq"))


@dataclass(frozen=True)
class DuringCheck:
    """What the point's CPUs delivered to it while it ran, in cores: the CPUs less what other
    programs used (foreign) and the hypervisor stole, at most the point's cores."""

    cores: int
    capacity: float
    foreign_cores: float
    steal_cores: float
    seconds: float
    ok: bool  # capacity >= LOW x cores
    cpus: int  # CPUs the ledger read

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)

    @property
    def others_share(self) -> float:
        """The share (0..1) of the CPUs' time that other programs and the hypervisor took."""
        return min(1.0, (self.foreign_cores + self.steal_cores) / self.cpus)


def during(before: CpuLedger, after: CpuLedger, cores: int) -> DuringCheck:
    """The cores delivered between two ledgers of the same CPUs. Other programs' share is
    busy time less this process tree's own, beyond the counters' resolution (so a quiet
    machine reads 0, not tick noise); a child that outlived the point and was not reaped
    counts as another program."""
    n = len(before.cpus)
    cores = min(cores, n)
    wall = max(after.wall - before.wall, 1e-9)
    own = after.own - before.own
    slack = 2 * n * TICK_S + OWN_SLACK * own
    foreign = max(0.0, (after.busy - before.busy) - own - slack) / wall
    steal = max(0.0, (after.steal - before.steal) - n * TICK_S) / wall
    cap = max(0.0, min(float(cores), n - foreign - steal))
    return DuringCheck(cores, cap, foreign, steal, wall, cap >= LOW * cores, n)


def others_share(before: CpuLedger | None) -> float:
    """The share (0..1) of this process's CPUs that other programs and the hypervisor took
    since `before`; 0.0 where the system keeps no per-CPU counters."""
    after = CpuLedger.now()
    if before is None or after is None:
        return 0.0
    return during(before, after, len(before.cpus)).others_share
