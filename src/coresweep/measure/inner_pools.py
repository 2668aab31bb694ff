"""Oversubscription guard: what size the inner pools (BLAS, Numba) really have in each worker."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from coresweep.backends.base import Backend

_LIMITS: list[Any] = []  # keeps the process-wide limit object alive
_BLAS_NOW: dict[int, int] = {}  # pid -> its BLAS limit, as set by with_inner_pools
_NUMBA_NOW = threading.local()  # this thread's Numba thread count, likewise
_BLAS_LOCK = threading.Lock()
_BLAS_OWNER: dict[int, ThreadPoolExecutor] = {}  # pid -> the one thread that sets BLAS limits


def limit_inner_pools(numba_threads: int = 1, blas_threads: int = 1) -> None:
    """Set this worker's inner pools: BLAS via threadpoolctl (per process), Numba via
    set_num_threads (per calling thread: a thread backend runs this in every thread)."""
    import numba
    from threadpoolctl import threadpool_limits

    _LIMITS.append(threadpool_limits(limits=blas_threads, user_api="blas"))
    numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))


def with_inner_pools(inner: str, threads: int, fn: Callable[[Any], Any], item: Any) -> Any:
    """fn(item) with this worker's inner pool ("blas" or "numba") at `threads` threads.

    The limit is applied only when it changes (BLAS per process, Numba per thread), so one
    warm pool can run arms with different inner pools back to back at no per-call cost.
    threadpoolctl lets only the first thread that limits OpenBLAS change it later (others
    are ignored without a word), so every BLAS change goes through one owner thread.
    """
    if inner == "blas":
        pid = os.getpid()  # state keyed by pid: a forked child starts afresh
        with _BLAS_LOCK:
            if _BLAS_NOW.get(pid) != threads:
                if pid not in _BLAS_OWNER:
                    _BLAS_OWNER[pid] = ThreadPoolExecutor(1, "blas-limits")
                _BLAS_OWNER[pid].submit(limit_inner_pools, 1, threads).result()
                _BLAS_NOW[pid] = threads
    elif getattr(_NUMBA_NOW, "threads", None) != threads:
        limit_inner_pools(threads, 1)
        _NUMBA_NOW.threads = threads
    return fn(item)


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
