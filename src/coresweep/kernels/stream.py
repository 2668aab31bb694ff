"""STREAM triad a = b + s*c in Numba nogil: a memory-bound kernel, reported in GB/s.

A memory-bound kernel must stream from memory, not from cache: STREAM's rule is that each
array is at least 4x the last-level cache the measuring cores reach. So a task is ONE sweep
of one chunk of a process's arrays (no repeats inside a task: a chunk swept twice in a row
would be served from cache), and the experiment sizes the arrays from the cache
(coresweep.measure.cache) and splits them into chunks, the way STREAM's OpenMP version
splits the index range over its threads. A sample need not sweep them all: what keeps a
chunk out of the cache is that every other chunk is swept before it comes round again, so
the experiment holds several samples' worth of chunks (`samples_per_sweep`).

A process holds ONE set of arrays a, b, c (`hold`), built and first-touched before any
timing. Threads of that process (a thread pool, numba-parallel's prange, the in-job serial
baseline) work on chunks of it; a worker process (fork, spawn, loky, Dask) holds its own set,
sized to its share of the chunks and built in the worker (`prepare`), so the footprint of a
point is the total, not the total x p. A forked worker whose parent holds inputs at least as
large reads the parent's b and c where they are (pages only read are never copied on
write) and builds only its own a: the inputs hold the same values either way, and building
them again would cost most of the worker's start (fresh memory faults in slowly on some
VMs: 0.38 GB/s measured on a gVisor-like KVM guest). Each forked worker reads its own
share of them, the next one a counter shared with its parent hands out (`_take_share`):
workers reading the same pages at the same time would serve each other's reads from the
shared last-level cache and measure more than memory bandwidth. Successive tasks of a
process take successive slots (chunks) round robin, so a process sweeps all it holds
before it returns to a chunk.

The inputs repeat with a period of PERIOD elements and every slot starts at a multiple of
it, so all chunks hold the same values and a task's result depends only on its size and its
scalar: the same on every backend, in every decomposition, whichever slot served it. Values
are dyadic (b, c in 1/4096 steps, s in 1/8 steps), so the sweep's sum is exact and equals
the closed-form reference. Bytes counted the STREAM way: 3 x 8 bytes per element.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from coresweep.kernels.base import Check, Kernel, Task

#: sweeps per task: one, so a task's chunk is never re-read from cache inside a task
REPS = 1
SCALAR = 3.0
#: the inputs repeat every PERIOD elements; slots start at multiples of it
PERIOD = 4096
#: bytes per element of the three arrays (STREAM's count for triad)
BYTES_PER_ELEMENT = 24
#: nominal bytes/s of one core streaming from memory (~24 GB/s measured on a 2.6 GHz Xeon
#: and 21-24 GB/s on a shared EPYC VM); predicts durations, never timed at plan time
RATE = 2.2e10


def _period() -> tuple[np.ndarray, np.ndarray]:
    """One period of b and c (exact: dyadic values)."""
    i = np.arange(PERIOD, dtype=np.float64)
    return i / PERIOD, (i * 5.0) % PERIOD / PERIOD + 1.0


def populated(n: int) -> np.ndarray:
    """n float64 zeros, every page written now, so building is not paid in the first samples.

    NumPy's own allocation, as a NumPy user's arrays get it: NumPy asks for transparent huge
    pages, and the triad streams ~8% faster on them than on 4 KiB pages (12.2-12.5 against
    11.4-11.8 GB/s, one thread, 3 x 1.875 GiB, one process, 2026-12-07). On a Firecracker VM
    faulting fresh guest memory in as huge pages ran at 0.4 GB/s (base pages with
    MAP_POPULATE: 2.5-3.5 GB/s); measured here, that costs the default run ~11 s.
    """
    a = np.empty(n)
    a.fill(0.0)
    return a


def inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """b and c of n elements, written period by period: no temporaries beside them (the
    values repeat every PERIOD elements)."""
    pb, pc = _period()
    full = n - n % PERIOD
    out = []
    for pattern in (pb, pc):
        x = populated(n)
        x[:full].reshape(-1, PERIOD)[:] = pattern
        x[full:] = pattern[: n - full]
        out.append(x)
    return out[0], out[1]


def scalar(index: int) -> float:
    """The scalar of task `index`: exact in binary, different for neighbouring tasks."""
    return SCALAR + (index % 64) * 0.125


def stride(size: int) -> int:
    """Elements between the starts of two slots of `size`: size rounded up to PERIOD."""
    return -(-size // PERIOD) * PERIOD


def held_elements(size: int, slots: int) -> int:
    """Elements a process must hold to give `slots` distinct chunks of `size`."""
    return stride(size) * max(1, slots)


@dataclass
class _Held:
    pid: int
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    #: the counter this process's forked workers take shares of b and c by (None: b and c
    #: are a share of its parent's, and its own fork children, if any, read them from 0)
    shares: Any = None


_HELD: list[_Held] = []  # this process's set (a fork child finds its parent's and replaces it)
#: a forked worker's view of its parent's b and c and the share it takes of them, kept to
#: read after it made its own set
_INHERITED: list[tuple[np.ndarray, np.ndarray, int]] = []
_NEXT = itertools.count()  # next slot; next() is atomic under the GIL
#: seconds a forked worker waits for the share counter's lock (a sibling killed while
#: holding it would keep it forever): it then takes a share unlocked, never hangs
SHARE_LOCK_SECONDS = 1.0


def _share_counter() -> Any:
    """A counter shared with the fork children to come, for the inputs this process built.

    Fork context: its lock's semaphore is unlinked at once, so no resource tracker starts
    (a spawn-context lock would register its name with one)."""
    return multiprocessing.get_context("fork").Value("q", 0)


def _take_share(counter: Any) -> int:
    """Fetch-and-increment the parent's counter: this forked worker's share index."""
    if counter is None:
        return 0
    lock = counter.get_lock()
    locked = lock.acquire(timeout=SHARE_LOCK_SECONDS)
    try:
        k = int(counter.value)
        counter.value = k + 1
    finally:
        if locked:
            lock.release()
    return k


def _share(k: int, n: int, total: int) -> int:
    """Offset of share k of n elements in inputs of `total`: whole shares, each starting at
    a multiple of PERIOD (so every slot in it does), wrapping over those the inputs hold."""
    step = -(-n // PERIOD) * PERIOD
    return (k % max(1, total // step)) * step


def hold(n: int) -> int:
    """Make this process hold arrays of at least n elements, built and first-touched now.

    Keeps the set it holds when that is large enough (the strong and weak workloads and
    the baseline share it); returns the elements held. A forked worker takes its share
    index once, at its first hold, and keeps it for a larger set: the p workers of a pool
    draw p consecutive values, distinct modulo the shares of any size."""
    mine = _HELD[0] if _HELD and _HELD[0].pid == os.getpid() else None
    if mine is not None and mine.a.size >= n:
        return mine.a.size
    if _HELD and mine is None:  # a forked worker: its parent's inputs stay readable here
        parent = _HELD[0]
        _INHERITED[:] = [(parent.b, parent.c, _take_share(parent.shares))]
    _HELD.clear()  # drop the old (or the parent's) set before building the next
    src = next(((b, c, k) for b, c, k in _INHERITED if b.size >= n), None)
    if src is not None:
        off = _share(src[2], n, src[0].size)
        b, c, shares = src[0][off : off + n], src[1][off : off + n], None
    else:  # built here: this process's fork children take their shares of these
        (b, c), shares = inputs(n), _share_counter()
    a = populated(n)  # faulted in here, not in the first sample
    _HELD.append(_Held(os.getpid(), a, b, c, shares))
    return n


def release() -> None:
    """Drop the arrays this process holds (a job moving on to another kernel)."""
    _HELD.clear()
    _INHERITED.clear()


def held() -> int:
    """Elements of the arrays this process holds (0: none)."""
    return _HELD[0].a.size if _HELD and _HELD[0].pid == os.getpid() else 0


def _arrays(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if held() < size:
        hold(size)  # a direct call without prepare: one chunk
    h = _HELD[0]
    return h.a, h.b, h.c


def _slots(held_size: int, size: int) -> int:
    """Distinct chunks of `size` in arrays of held_size elements (at least one)."""
    return max(1, held_size // stride(size))


def _slot(size: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, c = _arrays(size)
    off = (k % _slots(a.size, size)) * stride(size)
    return a[off : off + size], b[off : off + size], c[off : off + size]


@numba.njit(nogil=True, cache=True)
def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: float, reps: int) -> float:
    # eight partial sums: one chain of dependent adds would cap the sweep below memory speed
    total = 0.0
    for _ in range(reps):
        acc = np.zeros(8)
        n8 = a.size - a.size % 8
        for i in range(0, n8, 8):
            for j in range(8):
                x = b[i + j] + s * c[i + j]
                a[i + j] = x
                acc[j] += x
        for i in range(n8, a.size):
            x = b[i] + s * c[i]
            a[i] = x
            acc[0] += x
        total = acc.sum()
    return total


@numba.njit(nogil=True, parallel=True, cache=True)
def _triad_chunks(a, b, c, scalars, size, step, slots, reps):
    # prange splits the tasks into contiguous blocks per thread, as STREAM's OpenMP does
    out = np.zeros(scalars.size)
    for t in numba.prange(scalars.size):
        off = slots[t] * step
        out[t] = triad(
            a[off : off + size], b[off : off + size], c[off : off + size], scalars[t], reps
        )
    return out


def prepare(size: int, ntasks: int, seed: int) -> None:
    """Hold arrays for `ntasks` distinct chunks of `size` in this process (built now)."""
    hold(held_elements(size, ntasks))


def run(task: Task) -> float:
    a, b, c = _slot(task.size, next(_NEXT))
    return float(triad(a, b, c, scalar(task.index), REPS))


def run_parallel(tasks: Sequence[Task]) -> list[float]:
    size = tasks[0].size
    a, b, c = _arrays(held_elements(size, len(tasks)))
    scalars = np.array([scalar(t.index) for t in tasks])
    nslots = _slots(a.size, size)  # the next len(tasks) slots, round robin as run() takes them
    slots = np.array([next(_NEXT) % nslots for _ in tasks], dtype=np.int64)
    out = _triad_chunks(a, b, c, scalars, size, stride(size), slots, REPS)
    return [float(x) for x in out]


def compile_numba() -> None:
    z = np.zeros(16)
    triad(z.copy(), z, z, SCALAR, 1)


def compile_parallel() -> None:
    z = np.zeros(16)
    _triad_chunks(z.copy(), z, z, np.array([SCALAR, SCALAR]), 8, 8, np.array([0, 1]), 1)


def work(size: int) -> float:
    return float(BYTES_PER_ELEMENT * size * REPS)


def task_bytes(size: int) -> float:
    """a, b and c of one chunk (the experiment sizes what a process holds)."""
    return float(BYTES_PER_ELEMENT * size)


def reference(size: int, s: float) -> float:
    """sum(b + s*c) over one chunk, in closed form from one period (exact: dyadic values)."""
    b, c = _period()
    full, rest = divmod(size, PERIOD)
    sum_b = full * float(b.sum()) + float(b[:rest].sum())
    sum_c = full * float(c.sum()) + float(c[:rest].sum())
    return sum_b + s * sum_c


def check(tasks: Sequence[Task], results: Sequence[float]) -> Check:
    """Each task's sum against the closed-form sum of b + s*c with the task's scalar."""
    worst = 0.0
    for t, r in zip(tasks, results, strict=True):
        ref = reference(t.size, scalar(t.index))
        worst = max(worst, abs(r - ref) / max(abs(ref), 1e-300))
    return Check(worst < 1e-9, f"max rel err {worst:.2e}")


TRIAD = Kernel(
    name="triad",
    kind="memory",
    unit="byte",
    run=run,
    work=work,
    check=check,
    prepare=prepare,
    compile=compile_numba,
    run_parallel=run_parallel,
    compile_parallel=compile_parallel,
    description="STREAM triad, Numba nogil, memory-bound (arrays >= 4x the last-level cache)",
    rate=RATE,
    task_bytes=task_bytes,
    jit=True,
)
