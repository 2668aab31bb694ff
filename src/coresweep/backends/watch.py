"""Bounded waits on a pool's workers: a worker that dies, or a result that never comes, fails
what the caller awaits within seconds instead of hanging the job.

Whoever measures (the job runner, per point) sets the bound with `bounded(seconds)`. It holds
only in the process that set it: a pool in a forked child (a sacrificial fault run, whose
native behaviour on a dead worker is the measurement) keeps its native waits. While it
holds, each backend that starts processes runs a `Watch` from `start`: one daemon thread
that waits on its workers' sentinels (or polls their exit codes where a pool exposes no
sentinel) and on the deadlines of the results awaited. The first worker death or passed
deadline trips the watch: the failure is recorded on the bound (for the runner's message),
every awaited result fails with it, and the backend's abort hook wakes the waits the pool
itself owns. This module needs the standard library only: spawned workers import it.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_ready
from typing import Any

#: seconds between looks at workers that have no sentinel (Dask's)
POLL_SECONDS = 0.1
#: seconds between looks at the deadlines (a result tracked later may have the first one)
DEADLINE_SECONDS = 0.5
#: seconds to wait for a dead worker's exit status (the pool's own thread may be reaping it)
EXIT_STATUS_SECONDS = 1.0
#: seconds a pool-breaking error waits for the watch to name the worker that broke it
NAMING_SECONDS = 3.0
#: seconds between a worker's looks at whether its parent is still there
PARENT_SECONDS = 0.5


class BackendFailure(RuntimeError):
    """A wait on a backend's workers ended without its result: the point fails."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.seen = time.monotonic()  # when the watch saw it


class WorkerDied(BackendFailure):
    """A worker process of a backend exited while a bound held."""

    def __init__(self, backend: str, pid: int, exitcode: int | None) -> None:
        self.backend, self.pid, self.exitcode = backend, pid, exitcode
        super().__init__(f"{backend} worker pid {pid} {exit_cause(exitcode)}")


class SampleTimeout(BackendFailure):
    """No result came within the bound."""

    def __init__(self, backend: str, seconds: float) -> None:
        self.backend, self.seconds = backend, seconds
        super().__init__(
            f"{backend}: no result within {seconds:.1f} s (the bound set from the point's "
            "predicted seconds): a task hung"
        )


def exit_cause(exitcode: int | None) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if exitcode is None:
        return "is gone (its exit status was read elsewhere)"
    if exitcode < 0:
        try:
            return f"died of {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"died of signal {-exitcode}"
    return f"exited with code {exitcode}"


@dataclass
class Bound:
    """The longest wait for one result, set in process `pid`, and what failed under it."""

    seconds: float
    pid: int
    failures: list[BackendFailure] = field(default_factory=list)


_BOUND: Bound | None = None


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[Bound]:
    """Bound every wait on a backend started in this block (in this process) to `seconds`."""
    global _BOUND
    previous, _BOUND = _BOUND, Bound(seconds, os.getpid())
    try:
        yield _BOUND
    finally:
        _BOUND = previous


def current_bound() -> Bound | None:
    """The bound set in this very process, if any (a forked child inherits none)."""
    bound = _BOUND
    return bound if bound is not None and bound.pid == os.getpid() else None


def die_with_parent() -> None:
    """In a worker: exit when the process that started it dies, so a killed job leaves no
    worker behind (a pool's queues keep an orphan waiting forever).

    A thread that looks at the parent pid every PARENT_SECONDS, not prctl(PR_SET_PDEATHSIG):
    that signal follows the parent *thread*, and a pool forks its replacement workers from
    a helper thread whose end at shutdown would kill them holding the pool's queue locks.
    """
    parent = os.getppid()
    if parent == 1:  # orphaned already
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="coresweep-parent-death", daemon=True).start()


def settle(future: Future[Any], value: Any = None, error: BaseException | None = None) -> None:
    """Complete future unless the watch already failed it (a pool's late callback)."""
    with contextlib.suppress(Exception):  # InvalidStateError: already done
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _sentinel(worker: Any) -> Any:
    """A worker's sentinel (ready once it exits), or None where the pool exposes none."""
    try:
        return worker.sentinel
    except (AttributeError, ValueError):
        return None


def _exit_status(worker: Any) -> int | None:
    deadline = time.monotonic() + EXIT_STATUS_SECONDS
    while (code := worker.exitcode) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return code


class Watch:
    """Watches a snapshot of a backend's worker processes and the results awaited from them.

    workers: objects with `pid`, `exitcode` and (optionally) `sentinel`, as
    multiprocessing.Process has; the snapshot is taken once, so a worker the pool replaces
    still counts as dead. abort(failure) runs in the watch's thread after it tripped and
    every tracked future failed: it wakes the waits the pool owns (cancel its futures, kill
    its workers).
    """

    def __init__(
        self,
        backend: str,
        workers: Sequence[Any],
        bound: Bound,
        abort: Callable[[BackendFailure], None] | None = None,
    ) -> None:
        self.backend, self.bound = backend, bound
        self.failure: BackendFailure | None = None
        self._workers = list(workers)
        self._sentinels = {id(w): s for w in self._workers if (s := _sentinel(w)) is not None}
        self._abort = abort
        self._lock = threading.Lock()
        self._awaited: dict[Future[Any], tuple[float, bool]] = {}
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"{backend}-watch", daemon=True)
        self._thread.start()

    @property
    def seconds(self) -> float:
        return self.bound.seconds

    def track(self, future: Future[Any]) -> Future[Any]:
        """Fail future when a worker dies or the bound passes before it completes."""
        return self._track(future, fail=True)

    def track_deadline(self, future: Future[Any]) -> Future[Any]:
        """Trip the watch when future is not done within the bound; a pool whose own futures
        fail natively on a dead worker (an executor's) is woken by the abort hook."""
        return self._track(future, fail=False)

    def _track(self, future: Future[Any], fail: bool) -> Future[Any]:
        with self._lock:
            failure = self.failure
            if failure is None:
                self._awaited[future] = (time.monotonic() + self.bound.seconds, fail)
        if failure is None:
            future.add_done_callback(self._forget)
        elif fail:
            settle(future, error=failure)
        return future

    def result(self, future: Future[Any]) -> Any:
        """future's result, or the watch's failure (a worker died, the bound passed)."""
        self.track(future)
        try:  # the watch fails it in time; the timeout only guards against a dead watch
            return future.result(timeout=self.bound.seconds + NAMING_SECONDS)
        except TimeoutError:
            raise self.failure or SampleTimeout(self.backend, self.bound.seconds) from None

    def check(self) -> None:
        """Raise the failure of a tripped watch: a broken point gets no further work."""
        if self.failure is not None:
            raise self.failure

    def named(self, exc: BaseException) -> BaseException:
        """The watch's failure for a pool-breaking error, once the watch has named the dead
        worker (within NAMING_SECONDS); exc itself if no worker died."""
        if isinstance(exc, TimeoutError) and self.failure is None:
            self._trip(SampleTimeout(self.backend, self.bound.seconds))
        deadline = time.monotonic() + NAMING_SECONDS
        while self.failure is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.failure or exc

    def stop(self) -> None:
        """End the watch (before the pool shuts down: its workers' exits are no deaths)."""
        if self._stop_w < 0:
            return
        os.write(self._stop_w, b"x")
        self._thread.join()
        os.close(self._stop_r)
        os.close(self._stop_w)
        self._stop_r = self._stop_w = -1

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._awaited.pop(future, None)

    def _run(self) -> None:
        sentinels = self._sentinels
        while True:
            polled = len(sentinels) < len(self._workers)
            with self._lock:
                first = min((d for d, _ in self._awaited.values()), default=math.inf)
            look = POLL_SECONDS if polled else DEADLINE_SECONDS
            timeout = min(max(0.0, first - time.monotonic()), look)
            try:
                ready = wait_ready([self._stop_r, *sentinels.values()], timeout)
            except (OSError, ValueError):  # a sentinel closed under us: poll exit codes
                sentinels, ready = {}, []
            if self._stop_r in ready:
                return
            gone = [
                w
                for w in self._workers
                if (sentinels[id(w)] in ready if id(w) in sentinels else w.exitcode is not None)
            ]
            if gone:
                # the first to die: not a sibling that the pool sent SIGTERM after it
                codes = {id(w): _exit_status(w) for w in gone}
                dead = min(gone, key=lambda w: codes[id(w)] == -signal.SIGTERM)
                self._trip(WorkerDied(self.backend, dead.pid, codes[id(dead)]))
                return
            with self._lock:
                late = any(d <= time.monotonic() for d, _ in self._awaited.values())
            if late:
                self._trip(SampleTimeout(self.backend, self.bound.seconds))
                return

    def _trip(self, failure: BackendFailure) -> None:
        with self._lock:
            if self.failure is not None:
                return
            self.failure = failure
            awaited, self._awaited = self._awaited, {}
        self.bound.failures.append(failure)
        for future, (_, fail) in awaited.items():
            if fail:
                settle(future, error=failure)
        if self._abort is not None:
            with contextlib.suppress(Exception):  # the pool may be half gone already
                self._abort(failure)
