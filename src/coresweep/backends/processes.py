"""A multiprocessing pool with an explicit start method: fork, forkserver or spawn."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from coresweep.backends.base import Backend, Descriptor, Init, running_future


def _worker_init(init: Init | None, barrier: Any, started: Any) -> None:
    if init is not None:
        init()
    with started.get_lock():
        started.value += 1
        first = started.value <= barrier.parties - 1
    # only the first generation meets at the barrier: a worker Pool starts to replace a dead
    # one would wait there forever (and hold up the pool's shutdown by its join timeout)
    if first:
        barrier.wait()


def _descriptor(method: str, arguments: str) -> Descriptor:
    # multiprocessing.Pool replaces a worker that dies, but the task it held never returns
    return Descriptor(
        isolation="process",
        shares_memory=False,
        arguments=arguments,
        pickler="pickle",
        start_method=method,
        supervision="worker-replaced-task-lost",
        gil_bound=False,
    )


class ProcessesBackend(Backend):
    """p worker processes; `start` returns only when every worker has run init."""

    name = "processes"
    method: ClassVar[str] = "fork"

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool: Any = None
        self._submitted: list[Future[Any]] = []

    start_timeout: ClassVar[float] = 120.0

    def start(self, init: Init | None = None) -> None:
        ctx = mp.get_context(self.method)
        barrier, started = ctx.Barrier(self.workers + 1), ctx.Value("i", 0)
        self._pool = ctx.Pool(
            self.workers, initializer=_worker_init, initargs=(init, barrier, started)
        )
        try:
            barrier.wait(timeout=self.start_timeout)
        except threading.BrokenBarrierError:
            self.shutdown()
            raise RuntimeError(
                f"{self.name}: {self.workers} workers did not finish their init within "
                f"{self.start_timeout:.0f} s (a worker hung or died while starting)"
            ) from None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self._pool is None:
            raise RuntimeError(f"{self.name} backend not started")
        return self._pool.map(fn, items, chunksize=1)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is None:
            raise RuntimeError(f"{self.name} backend not started")
        # Pool completes the future from its result thread; a task whose worker died never
        # completes (worker-replaced-task-lost): wait with a timeout
        future = running_future()
        self._submitted.append(future)
        self._pool.apply_async(
            fn, args, callback=future.set_result, error_callback=future.set_exception
        )
        return future

    def worker_ids(self) -> list[int]:
        # Pool keeps its worker Process objects in _pool; no public accessor exists
        return [p.pid for p in getattr(self._pool, "_pool", [])]

    stop_timeout: ClassVar[float] = 5.0

    def shutdown(self) -> None:
        # close, then let workers exit on their own: they run their exit handlers, which
        # unlink the semaphores they made (Numba's init lock under forkserver); terminate()
        # alone kills them first and resource_tracker warns of leaked semaphores at exit
        # A task that never settles (lost with its worker, or still running) keeps Pool's
        # workers from ever being told to exit: waiting for them would only run out the
        # timeout (5 s per faulty cell seen here), so such a pool is terminated at once
        if self._pool is not None:
            self._pool.close()
            if all(f.done() for f in self._submitted):
                deadline = time.monotonic() + self.stop_timeout
                for w in list(getattr(self._pool, "_pool", [])):  # a hung one: terminated
                    w.join(max(0.0, deadline - time.monotonic()))
            self._submitted = []
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "start_method": self.method}


class ForkBackend(ProcessesBackend):
    name = "processes-fork"
    method = "fork"
    descriptor = _descriptor("fork", "inherited")


class ForkserverBackend(ProcessesBackend):
    name = "processes-forkserver"
    method = "forkserver"
    descriptor = _descriptor("forkserver", "pickled")


class SpawnBackend(ProcessesBackend):
    name = "processes-spawn"
    method = "spawn"
    descriptor = _descriptor("spawn", "pickled")
