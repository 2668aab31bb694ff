"""One small interface for every execution model: start, map, shut down.

Start-up (spawning workers and running the per-worker init) is timed apart from work by
the caller; `map` runs one function over a list of items and returns results in order.
A backend is a context manager, so its workers are gone when the block ends, also on
an exception or Ctrl-C.
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

Init = Callable[[], None]


def chain_init(*steps: Init) -> Init:
    """One picklable init that runs every step in order in each worker.

    It lives in this light module so spawned workers unpickle it without importing
    the analysis stack.
    """
    return functools.partial(_run_steps, steps)


def _run_steps(steps: Sequence[Init]) -> None:
    for step in steps:
        step()


class Backend(ABC):
    """An execution model with `workers` parallel workers."""

    name: ClassVar[str]
    #: True when map wants one batch function over all items (Numba prange), not per item
    batch: ClassVar[bool] = False
    #: True when workers live in other processes (items and results are pickled)
    separate_processes: ClassVar[bool] = False

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
        return {"backend": self.name, "workers": self.workers}

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
