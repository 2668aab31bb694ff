"""concurrent.futures.ProcessPoolExecutor with spawned workers: the standard library's
"pool-broken" model.

Spawn, not forkserver: a spawned worker carries no state of the process that made the pool,
and spawn keeps no per-process server. A forkserver is one per process and its pid is copied
into a forked child (Python 3.11 does not reset it at fork), so a pool opened in a forked
child of a process that had started a forkserver (a sacrificial fault run, a test session)
would fail or put its workers outside the child's process tree. Spawn is also the default
on macOS and Windows; forkserver's start cost is measured by the processes-forkserver backend.

The executor starts workers lazily, one per submit while none is idle. `start` submits one
no-op per worker; each worker runs init as the executor's initializer, releases a latch and
then waits at a barrier with the caller, so no worker takes a task (and no submit finds an
idle one) before all `workers` have run init. A worker that dies (os._exit, a signal, an
init that raised) breaks the executor: every pending future fails with BrokenProcessPool,
and so does every later submit.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar

from coresweep.backends.base import Backend, Descriptor, Init
from coresweep.backends.watch import BackendFailure, Watch, current_bound, die_with_parent


def _init_then_wait(init: Init | None, latch: Any, barrier: Any) -> None:
    die_with_parent()
    if init is not None:
        init()
    latch.release()
    barrier.wait()  # raises (and ends the worker) when the caller aborts the start


def _nothing() -> None:
    return None


class ProcessPoolBackend(Backend):
    """p spawned ProcessPoolExecutor workers; `start` returns only when every one has run init."""

    name = "process-pool"
    cancels_pending = True  # the executor's own queue: a queued task is taken back
    method: ClassVar[str] = "spawn"
    descriptor = Descriptor(
        isolation="process",
        shares_memory=False,
        arguments="pickled",
        pickler="pickle",
        start_method="spawn",
        supervision="pool-broken",  # a dead worker fails every pending and later task
        gil_bound=False,
    )
    start_timeout: ClassVar[float] = 120.0
    stop_timeout: ClassVar[float] = 5.0

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._executor: ProcessPoolExecutor | None = None
        self._watch: Watch | None = None

    def start(self, init: Init | None = None) -> None:
        if self._executor is not None:
            raise RuntimeError(f"{self.name} backend already started")
        ctx = mp.get_context(self.method)
        latch, barrier = ctx.Semaphore(0), ctx.Barrier(self.workers + 1)
        self._executor = ProcessPoolExecutor(
            self.workers,
            mp_context=ctx,
            initializer=_init_then_wait,
            initargs=(init, latch, barrier),
        )
        try:  # also on Ctrl-C while waiting: the workers must not outlive a failed start
            firsts = [self._executor.submit(_nothing) for _ in range(self.workers)]
            self._await_init(firsts, latch)
            barrier.wait(timeout=self.start_timeout)
            for f in firsts:
                f.result(timeout=self.start_timeout)
        except BaseException:
            barrier.abort()
            self.shutdown()
            raise
        bound = current_bound()
        if bound is not None:  # the executor fails its futures itself when a worker dies
            self._watch = Watch(self.name, self._processes(), bound, self._kill_workers)

    def _await_init(self, firsts: list[Future[Any]], latch: Any) -> None:
        """Return once every worker has run init; fail when one died or start_timeout passed."""
        deadline = time.monotonic() + self.start_timeout
        ready = 0
        while ready < self.workers:
            if latch.acquire(timeout=0.05):
                ready += 1
                continue
            broken = next((f.exception() for f in firsts if f.done() and f.exception()), None)
            if broken is not None:
                raise RuntimeError(
                    f"{self.name}: a worker died while starting ({ready} of {self.workers} "
                    f"ran init; did init raise? see stderr): {broken}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name}: {self.workers} workers did not finish their init within "
                    f"{self.start_timeout:.0f} s (a worker hung or died while starting)"
                )

    def _running(self) -> ProcessPoolExecutor:
        if self._executor is None:
            raise RuntimeError(f"{self.name} backend not started")
        if self._watch is not None:
            self._watch.check()
        return self._executor

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        # Executor.map yields in item order; a task that raises re-raises here
        executor = self._running()
        if self._watch is None:
            return list(executor.map(fn, items, chunksize=1))
        try:
            return list(executor.map(fn, items, chunksize=1, timeout=self._watch.seconds))
        except (BrokenProcessPool, TimeoutError) as exc:
            raise self._watch.named(exc) from exc

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        # a broken pool raises BrokenProcessPool here, as it fails every pending future
        future = self._running().submit(fn, *args)
        if self._watch is not None:  # only its deadline: a dead worker fails it natively
            self._watch.track_deadline(future)
        return future

    def _kill_workers(self, failure: BackendFailure) -> None:
        """Wake every wait on a pool the watch gave up on: a killed worker breaks the pool,
        which fails every pending future (BrokenProcessPool)."""
        for p in self._processes():
            if p.is_alive():
                p.kill()

    def _processes(self) -> list[Any]:
        # the executor keeps its worker Process objects in _processes; no public accessor
        return list((getattr(self._executor, "_processes", None) or {}).values())

    def worker_ids(self) -> list[int]:
        return sorted(p.pid for p in self._processes() if p.pid is not None)

    def shutdown(self) -> None:
        executor = self._executor
        if executor is None:
            return
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        procs = self._processes()
        # let idle workers exit on their own (their exit handlers run); a task still running
        # (a hang, Ctrl-C) must not keep its worker: terminate, then kill, what is left
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + self.stop_timeout
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join(1.0)
        executor.shutdown(wait=True)
        self._executor = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "start_method": self.method}
