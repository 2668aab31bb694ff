"""loky: a robust ProcessPoolExecutor whose workers are fresh interpreters (fork + exec).

Each backend instance gets a fresh executor from `loky.get_reusable_executor(reuse=False)`:
reusing one across p (or across runs) would carry workers, their imports and their inner
pool settings from one measurement into the next. Workers never retire on their own
(`timeout=None`; loky's default of 10 idle seconds would respawn them, and re-run init,
in the middle of a measurement).

`start` submits nothing but runs the init as loky's initializer, which every worker runs
once when it starts; a counting semaphore (the latch) says when all `workers` workers have
run it. Inner BLAS pools are whatever the init sets: loky itself limits nothing.

A worker that dies (os._exit, a signal, the OOM killer) fails every pending future with
loky's TerminatedWorkerError, and loky shuts the whole executor down. The next `map` or
`submit` gets a fresh executor with the same init (loky's "restart"), so the pool recovers
but the tasks that were in flight are lost.

loky's executor is one per thread: two loky backends alive in one thread would kill each
other's workers, so starting a second is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar

from coresweep.backends.base import Backend, Descriptor, Init
from coresweep.backends.watch import BackendFailure, Watch, current_bound, die_with_parent

_OWNER = threading.local()  # the LokyBackend whose executor is this thread's loky executor


def _init_then_count(init: Init | None, latch: Any) -> None:
    die_with_parent()
    if init is not None:
        init()
    latch.release()


def _nothing() -> None:
    return None


def _forget(executor: Any) -> None:
    """Drop loky's own reference to a shut-down executor (and to its initargs).

    loky keeps the last executor of each thread for reuse; kept, its semaphores (the latch,
    its queues' locks) would be released only at interpreter exit, after the command's
    cleanup has stopped loky's resource tracker, which then warns of leaks.
    """
    from loky import reusable_executor

    storage = reusable_executor._executor_storage  # no public way to drop it
    if getattr(storage, "executor", None) is executor:
        storage.executor = storage.executor_kwargs = None


class LokyBackend(Backend):
    """p loky worker processes; `start` returns only when every worker has run init."""

    name = "loky"
    cancels_pending = True  # loky's executor keeps ProcessPoolExecutor's own queue
    descriptor = Descriptor(
        isolation="process",
        shares_memory=False,
        arguments="pickled",
        pickler="cloudpickle",
        start_method="loky",
        # every pending future fails (TerminatedWorkerError); the next call gets new workers
        # a dead worker fails every pending task (TerminatedWorkerError), then the
        # executor starts fresh workers: the pool survives, the batch in flight does not
        supervision="pool-restarted",
        gil_bound=False,
    )

    start_timeout: ClassVar[float] = 120.0

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._executor: Any = None
        self._init: Init | None = None
        self._watch: Watch | None = None

    def start(self, init: Init | None = None) -> None:
        if self._executor is not None:
            raise RuntimeError(f"{self.name} backend already started")
        self._init = init
        try:
            self._executor = self._fresh_executor()
        except BaseException:
            self.shutdown()
            raise
        bound = current_bound()
        if bound is not None:  # loky fails its futures itself when a worker dies
            procs = list(self._executor._processes.values())  # no public accessor exists
            self._watch = Watch(self.name, procs, bound, self._kill_workers)

    def _fresh_executor(self) -> Any:
        """A new executor whose `workers` workers have all run init."""
        from loky import get_reusable_executor
        from loky.backend import get_context

        other = getattr(_OWNER, "backend", None)
        if other is not None and other is not self and other._executor is not None:
            raise RuntimeError(
                f"{self.name}: another loky backend is running in this thread; loky keeps one "
                "executor per thread, so shut that one down first"
            )
        ctx = get_context("loky")
        latch = ctx.Semaphore(0)
        executor = get_reusable_executor(
            max_workers=self.workers,
            context=ctx,
            timeout=None,
            kill_workers=True,
            reuse=False,
            initializer=_init_then_count,
            initargs=(self._init, latch),
        )
        _OWNER.backend = self
        try:  # also on Ctrl-C while waiting: the executor is nobody else's to shut down yet
            self._await_init(executor, latch)
        except BaseException:
            executor.shutdown(wait=True, kill_workers=True)
            _forget(executor)
            raise
        return executor

    def _await_init(self, executor: Any, latch: Any) -> None:
        """Return once every worker has released the latch after its init; fail when one died
        (an init that raised ends its worker) or start_timeout passed."""
        first = executor.submit(_nothing)  # loky spawns all max_workers workers on a submit
        deadline = time.monotonic() + self.start_timeout
        ready = 0
        while ready < self.workers:
            if latch.acquire(timeout=0.05):
                ready += 1
            elif first.done() and first.exception() is not None:
                raise RuntimeError(
                    f"{self.name}: a worker died while starting ({ready} of {self.workers} "
                    f"ran init; did init raise? see stderr): {first.exception()}"
                )
            elif time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name}: {self.workers} workers did not finish their init within "
                    f"{self.start_timeout:.0f} s (a worker hung or died while starting)"
                )
        first.result()

    def _running(self) -> Any:
        """The executor; a fresh one (init re-run) when a dead worker broke the last one."""
        if self._executor is None:
            raise RuntimeError(f"{self.name} backend not started")
        if self._watch is not None:  # under a bound a broken pool fails the point: no restart
            self._watch.check()
        if self._executor._flags.broken is not None:  # no public accessor exists
            broken, self._executor = self._executor, None
            broken.shutdown(wait=True, kill_workers=True)
            _forget(broken)
            self._executor = self._fresh_executor()
        return self._executor

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        # Executor.map yields in item order and cancels what is left when a task raises
        executor = self._running()
        if self._watch is None:
            return list(executor.map(fn, items, chunksize=1))
        try:
            return list(executor.map(fn, items, chunksize=1, timeout=self._watch.seconds))
        except (BrokenProcessPool, TimeoutError) as exc:  # TerminatedWorkerError among them
            raise self._watch.named(exc) from exc

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future = self._running().submit(fn, *args)
        if self._watch is not None:  # only its deadline: a dead worker fails it natively
            self._watch.track_deadline(future)
        return future

    def _kill_workers(self, failure: BackendFailure) -> None:
        """Wake every wait on a pool the watch gave up on: a killed worker fails every
        pending future (TerminatedWorkerError)."""
        for p in list(getattr(self._executor, "_processes", {}).values()):
            if p.is_alive():
                p.kill()

    def worker_ids(self) -> list[int]:
        # the executor keeps its worker processes in _processes, by pid; no public accessor
        return sorted(getattr(self._executor, "_processes", {}))

    def shutdown(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        executor, self._executor = self._executor, None
        if executor is not None:
            # kill_workers: a task still running (a hang, Ctrl-C) must not keep its worker
            executor.shutdown(wait=True, kill_workers=True)
            _forget(executor)
        if getattr(_OWNER, "backend", None) is self:
            _OWNER.backend = None

    def describe(self) -> dict[str, Any]:
        import loky

        return {**super().describe(), "start_method": "loky", "loky_version": loky.__version__}
