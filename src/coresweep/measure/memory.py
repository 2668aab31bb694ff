"""The one process-tree memory sampler: total PSS and USS of a root process and its descendants.

RSS double-counts pages shared between processes (fork copy-on-write, shared memory,
shared libraries), so memory per worker is read from PSS (each shared page split among its
users) and USS (pages only that process holds), summed over the whole tree. Snakemake's
`benchmark:` samples every 0.5 s at best; this samples at `hz` (default 20) in a thread.

The PSS of library code also depends on processes outside the tree (every process on the
machine that maps the same file takes a share), so the sampler also sums the PSS of
anonymous and shared-memory pages alone ("data PSS"): only the tree itself shares those.
On Linux one read of /proc/<pid>/smaps_rollup gives all of them (the file psutil's
memory_full_info reads); elsewhere psutil's figures are used and data PSS equals PSS.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

MIB = 2**20
DEFAULT_HZ = 20.0


@dataclass(frozen=True)
class MemorySample:
    """One scan of the tree: seconds since sampling began, bytes summed over live processes."""

    t: float
    pss: int
    uss: int
    rss: int
    pss_data: int  # PSS of anonymous and shared-memory pages
    nprocs: int


#: smaps_rollup fields -> what they add to (USS is the sum of the Private_* lines)
_FIELDS = {b"Rss:": "rss", b"Pss:": "pss", b"Pss_Anon:": "pss_data", b"Pss_Shmem:": "pss_data"}


def process_memory(pid: int) -> dict[str, int]:
    """Bytes of one process: pss, uss, rss and pss_data; NoSuchProcess if it is gone."""
    out = dict.fromkeys(("pss", "uss", "rss", "pss_data"), 0)
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            text = fh.read()
    except FileNotFoundError:
        if psutil.pid_exists(pid) and not os.path.exists("/proc/self/smaps_rollup"):
            info = psutil.Process(pid).memory_full_info()  # no smaps_rollup: not Linux >= 4.14
            return {"pss": info.pss, "uss": info.uss, "rss": info.rss, "pss_data": info.pss}
        raise psutil.NoSuchProcess(pid) from None
    except ProcessLookupError:
        raise psutil.NoSuchProcess(pid) from None
    anon_seen = False
    for line in text.splitlines():
        head = line.split(maxsplit=1)[0] if line else b""
        if head in _FIELDS:
            out[_FIELDS[head]] += int(line.split()[1]) * 1024
            anon_seen |= head == b"Pss_Anon:"
        elif head.startswith(b"Private_"):
            out["uss"] += int(line.split()[1]) * 1024
    if not anon_seen:  # kernels before 5.x lack the split: fall back to all of PSS
        out["pss_data"] = out["pss"]
    return out


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def scan_tree(root_pid: int, t: float = 0.0) -> MemorySample:
    """Sum PSS, USS, RSS and data PSS over root_pid and every descendant alive during the scan."""
    try:
        root = psutil.Process(root_pid)
    except psutil.NoSuchProcess:
        return MemorySample(t, 0, 0, 0, 0, 0)
    total = dict.fromkeys(("pss", "uss", "rss", "pss_data"), 0)
    n = 0
    for proc in _tree(root):
        # a worker may exit between listing and reading; it simply no longer counts
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, PermissionError):
            for k, v in process_memory(proc.pid).items():
                total[k] += v
            n += 1
    return MemorySample(t, nprocs=n, **total)


@dataclass(frozen=True)
class MemoryTrace:
    """Samples of one sampling window and their summaries (MiB)."""

    samples: tuple[MemorySample, ...]
    hz: float  # requested rate
    seconds: float  # length of the window

    @property
    def achieved_hz(self) -> float:
        """Scans per second actually made (a slow scan of a big tree lowers it)."""
        return (len(self.samples) - 1) / self.seconds if self.seconds > 0 else 0.0

    def _mib(self, field: str) -> list[float]:
        return [getattr(s, field) / MIB for s in self.samples]

    def peak(self, field: str = "pss") -> float:
        return max(self._mib(field))

    def median(self, field: str = "pss") -> float:
        return statistics.median(self._mib(field))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able columns (bytes) plus the rate; summaries are recomputed from these."""
        return {
            "hz": self.hz,
            "achieved_hz": self.achieved_hz,
            "seconds": self.seconds,
            "t": [s.t for s in self.samples],
            "pss": [s.pss for s in self.samples],
            "uss": [s.uss for s in self.samples],
            "rss": [s.rss for s in self.samples],
            "pss_data": [s.pss_data for s in self.samples],
            "nprocs": [s.nprocs for s in self.samples],
        }


class TreeMemorySampler:
    """Sample a process tree's memory in a background thread; a context manager.

    One scan happens on entry and one on exit, so even a window shorter than the period
    has two samples; `trace` holds the result after exit (or after `stop()`).
    """

    def __init__(self, root_pid: int | None = None, hz: float = DEFAULT_HZ) -> None:
        if hz <= 0:
            raise ValueError(f"sampling rate must be > 0 Hz, got {hz}")
        self.root_pid = os.getpid() if root_pid is None else root_pid
        self.hz = hz
        self._samples: list[MemorySample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.trace: MemoryTrace | None = None

    def _scan(self) -> None:
        self._samples.append(scan_tree(self.root_pid, time.perf_counter() - self._t0))

    def _loop(self) -> None:
        period = 1.0 / self.hz
        due = self._t0 + period
        while not self._stop.wait(max(0.0, due - time.perf_counter())):
            self._scan()
            due = max(due + period, time.perf_counter())  # never burst to catch up

    def start(self) -> TreeMemorySampler:
        self._t0 = time.perf_counter()
        self._scan()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> MemoryTrace:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._scan()
            seconds = self._samples[-1].t - self._samples[0].t
            self.trace = MemoryTrace(tuple(self._samples), self.hz, seconds)
        if self.trace is None:
            raise RuntimeError("sampler was never started")
        return self.trace

    def __enter__(self) -> TreeMemorySampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sample_for(seconds: float, root_pid: int | None = None, hz: float = DEFAULT_HZ) -> MemoryTrace:
    """Sample the tree for a fixed window while the caller waits (an idle measurement)."""
    with TreeMemorySampler(root_pid, hz) as s:
        time.sleep(seconds)
    assert s.trace is not None
    return s.trace
