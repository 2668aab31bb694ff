"""One small interface for every execution model: start, map, submit, shut down.

Start-up (spawning workers and running the per-worker init) is timed apart from work by
the caller; `map` runs one function over a list of items and returns results in order;
`submit` runs one task and returns a concurrent.futures.Future. A backend is a context
manager, so its workers are gone when the block ends, also on an exception or Ctrl-C.

Under a bound (`coresweep.backends.watch.bounded`, which the job runner sets per point) a
backend that starts processes watches its workers from `start` on: a worker that dies
fails map and pending futures within seconds (WorkerDied, naming the backend, the pid and
the signal), and a result that takes longer than the bound fails too (SampleTimeout).
Without a bound each pool keeps its native behaviour (what the descriptor's `supervision`
says), which the faults experiment measures.
"""

from __future__ import annotations

import functools
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from coresweep.costs import START_METHODS

Init = Callable[[], None]

#: the values each fact of a Descriptor may take (verdict rules and plots select by these)
ISOLATION = ("inline", "thread", "interpreter", "process", "cluster")
ARGUMENTS = ("reference", "pickled", "inherited")
PICKLERS = ("none", "pickle", "cloudpickle")
DISPATCH = ("caller", "scheduler")
SUPERVISION = (
    "program-lost",
    "pool-broken",
    "pool-restarted",
    "worker-replaced-task-lost",
    "worker-restarted",
)


@dataclass(frozen=True)
class Descriptor:
    """What an execution model is: the facts verdicts, advice, plots and estimates select by.

    isolation: where a worker runs — "inline" (the caller's own thread), "thread" (a thread
      of the caller's process, one GIL), "interpreter" (a subinterpreter), "process", or
      "cluster" (processes that may be on other machines).
    shares_memory: workers read and write the caller's objects in place.
    arguments: how a task's arguments reach a worker — by "reference", "pickled", or
      "inherited" (copy-on-write at fork; later arguments are still pickled).
    pickler: what pickles functions and arguments on their way to a worker — "none" (they go
      by reference), "pickle" (refuses lambdas and closures) or "cloudpickle" (takes them
      by value).
    start_method: "none", "fork", "forkserver", "spawn", "loky" (loky's fork + exec of a
      fresh interpreter), "nanny" (Dask's worker nanny), or "interpreter" (a subinterpreter
      created in the caller's process): one of coresweep.costs.START_METHODS, the table
      every estimate reads its start-up, shutdown and helpers from.
    supervision: what a worker that dies (os._exit, a signal) does — "program-lost" (it is
      the caller's process), "pool-broken" (every pending task fails), "worker-replaced-task-
      lost" (a new worker starts, the dead one's task never returns: a map hangs),
      "pool-restarted" (every pending task fails with an error, then fresh workers start), or
      "worker-restarted" (a new worker starts and the caller gets an error for the lost task).
    gil_bound: Python code in the workers runs one at a time under one GIL.
    batch: map hands the whole batch to one function (Numba prange), not one task per call.
    dispatch: who hands a task to a worker — "caller" (the caller's thread, directly or
      through the pool's own queue) or "scheduler" (a task scheduler's event loop, Dask's:
      ~0.5–1 ms per task, and its threads outlive the pool in the caller's process).
    """

    isolation: str
    shares_memory: bool
    arguments: str
    pickler: str
    start_method: str
    supervision: str
    gil_bound: bool
    batch: bool = False
    dispatch: str = "caller"

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("isolation", self.isolation, ISOLATION),
            ("start_method", self.start_method, START_METHODS),
            ("arguments", self.arguments, ARGUMENTS),
            ("pickler", self.pickler, PICKLERS),
            ("supervision", self.supervision, SUPERVISION),
            ("dispatch", self.dispatch, DISPATCH),
        ):
            if value not in allowed:
                raise ValueError(
                    f"descriptor {field} {value!r}{_defined_in()} is not one of {allowed}"
                    + (_NEW_START_METHOD if field == "start_method" else "")
                )
        if (self.pickler == "none") != (self.arguments == "reference"):
            raise ValueError(
                f"descriptor pickler {self.pickler!r} contradicts arguments {self.arguments!r}:"
                " only arguments that go by reference need no pickler"
            )

    @property
    def separate_processes(self) -> bool:
        """Workers in other processes than the caller's."""
        return self.isolation in ("process", "cluster")

    def columns(self) -> dict[str, Any]:
        """The descriptor as table columns (prefixed, so they never clash with a table's own)."""
        return {f"backend_{k}": v for k, v in asdict(self).items()}


_NEW_START_METHOD = (
    "; a new start method needs its row of start-up and shutdown costs in "
    "coresweep.costs.START_COSTS"
)


def _defined_in() -> str:
    """ " of backend <module>.<Class>" when a class body (a backend's) builds the descriptor."""
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            break
        names = frame.f_locals
        if "__qualname__" in names and "__module__" in names:
            return f" of backend {names['__module__']}.{names['__qualname__']}"
        frame = frame.f_back
    return ""


def chain_init(*steps: Init) -> Init:
    """One picklable init that runs every step in order in each worker.

    It lives in this light module so spawned workers unpickle it without importing
    the analysis stack.
    """
    return functools.partial(_run_steps, steps)


def _run_steps(steps: Sequence[Init]) -> None:
    for step in steps:
        step()


def running_future() -> Future[Any]:
    """A Future already marked running, for a backend to complete from its own callbacks."""
    future: Future[Any] = Future()
    future.set_running_or_notify_cancel()
    return future


def called_future(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """fn(*args) run here and now, as a completed Future (its result or its exception)."""
    future = running_future()
    try:
        future.set_result(fn(*args))
    except Exception as exc:
        future.set_exception(exc)
    return future


class BackendUnavailable(RuntimeError):
    """An execution model this interpreter cannot run (the message says why)."""


class Backend(ABC):
    """An execution model with `workers` parallel workers."""

    name: ClassVar[str]
    #: what this execution model is; every consumer selects by it, never by `name`
    descriptor: ClassVar[Descriptor]
    #: Future.cancel() takes back a submitted task that no worker has started yet (the
    #: pool keeps a queue of its own); False: a submitted task runs sooner or later
    cancels_pending: ClassVar[bool] = False

    @property
    def batch(self) -> bool:
        return self.descriptor.batch

    @classmethod
    def unavailable(cls, version: tuple[int, ...] | None = None) -> str | None:
        """Why an interpreter cannot run this execution model; None when it can.

        version: the Python version of the interpreter a plan is for (another interpreter
        of `interpreters:`); None: this interpreter, judged by what it has. The planner
        leaves out a backend that gives a reason (and logs it); `start` of such a backend
        raises BackendUnavailable with it.
        """
        return None

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"{self.name}: workers must be >= 1, got {workers}")
        self.workers = workers

    @abstractmethod
    def start(self, init: Init | None = None) -> None:
        """Bring up all workers and run init once in every worker process before returning."""

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """fn over items, results in item order (a batch backend calls fn(items) once)."""

    @abstractmethod
    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """fn(*args) as one task on a worker: a concurrent.futures.Future of its result.

        Count on cancel() only where `cancels_pending` is True: elsewhere a task handed to
        the pool is not taken back. What a dead worker does to the future is the
        descriptor's `supervision` (with "worker-replaced-task-lost" it never completes
        unless a bound holds): wait on it with a timeout. A batch backend raises
        NotImplementedError.
        """

    @abstractmethod
    def shutdown(self) -> None:
        """Stop all workers; safe to call twice."""

    def worker_ids(self) -> list[int]:
        """OS ids (pids, or native thread ids) of the workers, for pinning; [] if unknown."""
        return []

    def pin(self, cpus: Sequence[int]) -> dict[int, int]:
        """Pin worker i to cpus[i] with os.sched_setaffinity; returns {worker id: cpu}."""
        ids = self.worker_ids()
        if not ids:
            return {}
        if len(cpus) < len(ids):
            raise ValueError(f"{self.name}: {len(ids)} workers but only {len(cpus)} CPUs to pin to")
        for wid, cpu in zip(ids, cpus, strict=False):
            os.sched_setaffinity(wid, {cpu})
        return dict(zip(ids, cpus, strict=False))

    def describe(self) -> dict[str, Any]:
        """What to record about this backend next to its results."""
        return {"backend": self.name, "workers": self.workers, **self.descriptor.columns()}

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
