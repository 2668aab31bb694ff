"""Oversubscription guard: what size the inner pools (BLAS, Numba) really have in each worker."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from coresweep.backends.base import Backend

_LIMITS: list[Any] = []  # keeps the process-wide limit object alive


def limit_inner_pools(numba_threads: int = 1, blas_threads: int = 1) -> None:
    """Set this worker's inner pools: BLAS via threadpoolctl (per process), Numba via
    set_num_threads (per calling thread: a thread backend runs this in every thread)."""
    import numba
    from threadpoolctl import threadpool_limits

    _LIMITS.append(threadpool_limits(limits=blas_threads, user_api="blas"))
    numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))


def probe(_: Any = None) -> dict[str, Any]:
    """Inner thread pools of the calling worker."""
    import numba
    from threadpoolctl import threadpool_info

    return {
        "pid": os.getpid(),
        "blas_threads": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
        "numba_threads": numba.get_num_threads(),
    }


def probe_batch(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [probe() for _ in items]


def inner_pools(backend: Backend) -> list[dict[str, Any]]:
    """Probe every worker (one item per worker; a worker may answer twice, none is skipped
    on the backends here because items are dealt one at a time)."""
    fn = probe_batch if backend.batch else probe
    seen: dict[int, dict[str, Any]] = {}
    for info in backend.map(fn, list(range(backend.workers))):
        seen[info["pid"]] = info
    return list(seen.values())
