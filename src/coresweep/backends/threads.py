"""Threads in one process (ThreadPoolExecutor): GIL-bound for Python code, parallel for nogil."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from coresweep.backends.base import Backend, Init


class ThreadsBackend(Backend):
    name = "threads"

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool: ThreadPoolExecutor | None = None

    def start(self, init: Init | None = None) -> None:
        if init is not None:
            init()  # threads share the process: one init serves them all
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="coresweep")
        # ThreadPoolExecutor creates threads lazily; a barrier forces all of them up now
        barrier = threading.Barrier(self.workers + 1)
        futures = [self._pool.submit(barrier.wait) for _ in range(self.workers)]
        barrier.wait(timeout=60)
        for f in futures:
            f.result()

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self._pool is None:
            raise RuntimeError("threads backend not started")
        return list(self._pool.map(fn, items))

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
