"""Monte Carlo estimate of pi: a pure-Python kernel (holds the GIL) and a Numba nogil twin.

Both draw from the same xorshift64* generator, so for the same task they count the very
same hits: the Numba kernel is checked bit for bit against the Python one. The Python one
lives in `montecarlo_pure`, a module without NumPy, so a subinterpreter can import it.

Why the working set is what it is: Monte Carlo kernels hold almost nothing. A task keeps a
64-bit generator state and a hit count in registers (the Python one a few objects), so it
never touches memory beyond its code and its interpreter: its rate is the core's (and, in
pure Python, the GIL's), whatever the cache. There is nothing to size against the
last-level cache; `size` is the number of samples, i.e. the work, not the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from coresweep.kernels.base import Check, Kernel, Task
from coresweep.kernels.montecarlo_pure import MULT, SCALE, hits_python, run_python

#: nominal samples per second on one core (1.6 M / 269 M measured on a 2.6 GHz Xeon,
#: 1.3 M / 205 M on a shared EPYC VM); they size tasks, they are never timed at plan time
RATE_PYTHON = 1.5e6
RATE_NUMBA = 2.5e8


@numba.njit(nogil=True, cache=True)
def hits_numba(samples: int, seed: np.uint64) -> int:
    """The same count compiled with Numba; releases the GIL."""
    x = np.uint64(seed)
    if x == np.uint64(0):
        x = np.uint64(0x9E3779B97F4A7C15)
    mult = np.uint64(MULT)
    s12, s25, s27, s11 = np.uint64(12), np.uint64(25), np.uint64(27), np.uint64(11)
    hits = 0
    for _ in range(samples):
        x ^= x >> s12
        x ^= x << s25
        x ^= x >> s27
        u = np.float64((x * mult) >> s11) * SCALE
        x ^= x >> s12
        x ^= x << s25
        x ^= x >> s27
        v = np.float64((x * mult) >> s11) * SCALE
        if u * u + v * v <= 1.0:
            hits += 1
    return hits


@numba.njit(nogil=True, parallel=True, cache=True)
def _hits_prange(samples: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    out = np.zeros(samples.size, dtype=np.int64)
    for i in numba.prange(samples.size):
        out[i] = hits_numba(samples[i], seeds[i])
    return out


def run_numba(task: Task) -> int:
    return int(hits_numba(task.size, np.uint64(task.seed)))


def run_numba_parallel(tasks: Sequence[Task]) -> list[int]:
    samples = np.array([t.size for t in tasks], dtype=np.int64)
    seeds = np.array([t.seed for t in tasks], dtype=np.uint64)
    return [int(h) for h in _hits_prange(samples, seeds)]


def compile_numba() -> None:
    hits_numba(10, np.uint64(1))


def compile_parallel() -> None:
    _hits_prange(np.array([10], dtype=np.int64), np.array([1], dtype=np.uint64))


def work(size: int) -> float:
    return float(size)


def check(tasks: Sequence[Task], results: Sequence[int]) -> Check:
    """pi estimate within 6 standard errors, and the first task bit-identical to pure Python."""
    n = sum(t.size for t in tasks)
    hits = sum(int(r) for r in results)
    p = math.pi / 4
    z = abs(hits / n - p) / math.sqrt(p * (1 - p) / n)
    first = tasks[0]
    probe = Task(first.index, min(first.size, 2000), first.seed)
    same = hits_python(probe.size, probe.seed) == int(hits_numba(probe.size, np.uint64(probe.seed)))
    ok = z < 6 and same
    return Check(ok, f"pi~{4 * hits / n:.6f} z={z:.2f} python==numba:{same}")


MC_PYTHON = Kernel(
    name="mc-python",
    kind="python",
    unit="sample",
    run=run_python,
    work=work,
    check=check,
    description="Monte Carlo pi, pure Python (holds the GIL)",
    rate=RATE_PYTHON,
    subinterpreter_safe=True,  # run_python and Task import no NumPy (montecarlo_pure)
)

MC_NUMBA = Kernel(
    name="mc-numba",
    kind="nogil",
    unit="sample",
    run=run_numba,
    work=work,
    check=check,
    compile=compile_numba,
    run_parallel=run_numba_parallel,
    compile_parallel=compile_parallel,
    description="Monte Carlo pi, Numba @njit(nogil=True, cache=True)",
    rate=RATE_NUMBA,
    jit=True,
)
