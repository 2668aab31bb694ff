"""A multiprocessing pool with an explicit start method: fork, forkserver or spawn."""

from __future__ import annotations

import functools
import multiprocessing as mp
import multiprocessing.pool as mp_pool
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from coresweep.backends.base import Backend, Descriptor, Init, running_future
from coresweep.backends.watch import Watch, current_bound, die_with_parent, settle


def _worker_init(init: Init | None, barrier: Any, started: Any) -> None:
    die_with_parent()
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
        self._watch: Watch | None = None

    start_timeout: ClassVar[float] = 120.0

    def start(self, init: Init | None = None) -> None:
        ctx = mp.get_context(self.method)
        barrier, started = ctx.Barrier(self.workers + 1), ctx.Value("i", 0)
        self._pool = ctx.Pool(
            self.workers, initializer=_worker_init, initargs=(init, barrier, started)
        )
        bound = current_bound()
        if bound is not None:  # under a bound, a lost task fails its wait instead of hanging
            # watched from their birth: a worker that dies in init also ends the start
            self._watch = Watch(self.name, list(self._pool._pool), bound, _aborts(barrier))
        try:
            barrier.wait(timeout=self.start_timeout)
        except threading.BrokenBarrierError:
            failure = self._watch.failure if self._watch is not None else None
            self.shutdown()
            if failure is not None:
                raise failure from None
            raise RuntimeError(
                f"{self.name}: {self.workers} workers did not finish their init within "
                f"{self.start_timeout:.0f} s (a worker hung or died while starting)"
            ) from None

    def _running(self) -> Any:
        if self._pool is None:
            raise RuntimeError(f"{self.name} backend not started")
        if self._watch is not None:
            self._watch.check()
        return self._pool

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        pool = self._running()
        if self._watch is None:
            return pool.map(fn, items, chunksize=1)
        future = running_future()
        self._submitted.append(future)
        pool.map_async(fn, items, chunksize=1, **_settling(future))
        return self._watch.result(future)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        pool = self._running()
        # Pool completes the future from its result thread; a task whose worker died never
        # completes (worker-replaced-task-lost) unless a bound holds: wait with a timeout
        future = running_future()
        self._submitted.append(future)
        pool.apply_async(fn, args, **_settling(future))
        return future if self._watch is None else self._watch.track(future)

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
        if self._watch is not None:
            self._watch.stop()
        broken = self._watch is not None and self._watch.failure is not None
        self._watch = None
        if self._pool is not None:
            self._pool.close()
            if broken:
                _free_queues(self._pool)
            elif all(f.done() for f in self._submitted):
                deadline = time.monotonic() + self.stop_timeout
                for w in list(getattr(self._pool, "_pool", [])):  # a hung one: terminated
                    w.join(max(0.0, deadline - time.monotonic()))
            self._submitted = []
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "start_method": self.method}


LOCK_SECONDS = 0.5


def _aborts(barrier: Any) -> Callable[[Any], None]:
    """A watch's abort hook: a start still waiting at the barrier stops waiting."""
    return lambda failure: barrier.abort()


def _free_queues(pool: Any) -> None:
    """Kill the workers of a pool that lost one, and free the queue locks a killed worker
    may have died holding (an idle worker waits for a task holding the task queue's lock):
    Pool.terminate() takes them and would wait forever. A multiprocessing Lock is a
    semaphore, so any process may release it.
    """
    # stop the worker handler first: it replaces dead workers while tasks are pending, and a
    # replacement forked after the kill below waited on the freed lock and was never reaped
    # by terminate() (a CI run hung in Pool.join on such a worker)
    handler = pool._worker_handler
    handler._state = mp_pool.TERMINATE
    handler.join(4 * LOCK_SECONDS)
    workers = list(pool._pool)  # no public accessor exists
    for w in workers:
        if w.exitcode is None:
            w.kill()
    for w in workers:
        w.join(1.0)
    for lock in (pool._inqueue._rlock, pool._outqueue._wlock):
        # the pool's own threads hold the result queue's lock for a put at most: a lock still
        # held after LOCK_SECONDS is a dead worker's; free either way
        if lock is not None:
            lock.acquire(timeout=LOCK_SECONDS)
            lock.release()


def _settling(future: Future[Any]) -> dict[str, Callable[[Any], None]]:
    """Pool callbacks that complete future, unless a watch failed it first."""
    return {
        "callback": functools.partial(settle, future),
        "error_callback": lambda exc: settle(future, error=exc),
    }


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
