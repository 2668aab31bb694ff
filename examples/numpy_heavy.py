"""A NumPy-heavy function: almost all of its time is in BLAS and ufuncs that release the GIL.

A Gram matrix of random data and a tanh over it. `coresweep advise` limits BLAS to one
thread in every worker (threadpoolctl), so the backend, not OpenBLAS, supplies the
parallelism; outside coresweep, do the same with
`threadpoolctl.threadpool_limits(1, user_api="blas")` before you run it in threads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ORDER = 384


def gram_tanh(n: int, seed: int) -> float:
    """sum(tanh(A Aᵀ / n)) for an n x n standard-normal A drawn from the seed."""
    a = np.random.default_rng(seed).standard_normal((n, n))
    return float(np.tanh(a @ a.T / n).sum())


def make_tasks(ntasks: int, seed: int, size: int = ORDER) -> list[tuple[int, int]]:
    """ntasks matrices of order `size`, each with its own seed from SeedSequence(seed)."""
    seeds = np.random.SeedSequence(seed).generate_state(ntasks)
    return [(size, int(s)) for s in seeds]


def check(tasks: Sequence[tuple[int, int]], results: Sequence[float]) -> tuple[bool, str]:
    """Each sum is finite and near n tanh(1), which the diagonal alone contributes.

    |a_i|²/n is close to 1 for every row, while the off-diagonal terms average out, so a
    correct sum lies well above n tanh(0.5); a wrong product or a garbled array does not.
    """
    n = tasks[0][0]
    floor = n * np.tanh(0.5)
    bad = [i for i, r in enumerate(results) if not np.isfinite(r) or r < floor]
    detail = f"{len(results)} finite sums above {floor:.0f}" if not bad else f"bad tasks {bad}"
    return not bad, detail
