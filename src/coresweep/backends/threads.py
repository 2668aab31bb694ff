"""Threads in one process (ThreadPoolExecutor): GIL-bound for Python code, parallel for nogil."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from coresweep.backends.base import Backend, Descriptor, Init


def _init_then_wait(init: Init | None, barrier: threading.Barrier) -> int:
    if init is not None:
        init()
    barrier.wait(timeout=120)
    return threading.get_native_id()


class ThreadsBackend(Backend):
    name = "threads"
    cancels_pending = True  # the executor's own queue: a queued task is taken back
    descriptor = Descriptor(
        isolation="thread",
        shares_memory=True,
        arguments="reference",
        pickler="none",
        start_method="none",
        supervision="program-lost",
        gil_bound=True,
    )

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool: ThreadPoolExecutor | None = None
        self._tids: list[int] = []

    def start(self, init: Init | None = None) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="coresweep")
        # ThreadPoolExecutor creates threads lazily; a barrier forces all of them up now, and
        # each runs init once: some settings (numba.set_num_threads) are per thread
        barrier = threading.Barrier(self.workers + 1)
        futures = [self._pool.submit(_init_then_wait, init, barrier) for _ in range(self.workers)]
        barrier.wait(timeout=120)
        self._tids = [f.result() for f in futures]

    def worker_ids(self) -> list[int]:
        return list(self._tids)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self._pool is None:
            raise RuntimeError("threads backend not started")
        return list(self._pool.map(fn, items))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is None:
            raise RuntimeError("threads backend not started")
        return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
