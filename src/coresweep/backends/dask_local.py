"""Dask local clusters: p worker processes x 1 thread, or p threads in this process."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from coresweep.backends.base import Backend, Descriptor, Init, running_future
from coresweep.backends.watch import BackendFailure, Watch, current_bound, settle


def concurrent_future(task: Any) -> Future[Any]:
    """A concurrent.futures.Future that follows a distributed.Future.

    It holds the Dask future until the task ends: Dask forgets (cancels) a task whose
    last future is dropped.
    """
    future = running_future()
    keep = [task]

    def finished(t: Any) -> None:  # Dask calls it in a thread of its own, never the loop's
        try:
            settle(future, t.result())  # unless a watch failed it first
        except BaseException as exc:  # the task's own error, KilledWorker, CancelledError
            settle(future, error=exc)
        keep.clear()

    task.add_done_callback(finished)
    return future


class DaskLocalBackend(Backend):
    """A distributed.LocalCluster: scheduler, workers and HTTP routes on 127.0.0.1 only."""

    name = "dask"
    processes: ClassVar[bool] = True

    def __init__(self, workers: int, threads_per_worker: int = 1) -> None:
        super().__init__(workers)
        if threads_per_worker < 1:
            raise ValueError(f"{self.name}: threads_per_worker must be >= 1")
        #: threads inside each worker process (a processes x threads hybrid when > 1)
        self.threads_per_worker = threads_per_worker
        self._cluster: Any = None
        self._client: Any = None
        self._watch: Watch | None = None
        self._inflight: list[list[Any]] = []  # the Dask futures of the maps in flight

    def _cluster_kwargs(self) -> dict[str, Any]:
        if self.processes:
            # TCP on loopback only; nothing listens on a public interface
            return {
                "n_workers": self.workers,
                "threads_per_worker": self.threads_per_worker,
                "processes": True,
                "host": "127.0.0.1",
            }
        # in-process workers talk over the inproc transport: no sockets at all
        return {"n_workers": 1, "threads_per_worker": self.workers, "processes": False}

    def start(self, init: Init | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster = LocalCluster(
            # None would still bind the scheduler's HTTP routes to 0.0.0.0:8787 for the
            # in-process cluster; a random loopback port never collides and never leaks
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
            **self._cluster_kwargs(),
        )
        self._client = Client(self._cluster)
        self._client.wait_for_workers(self._cluster_kwargs()["n_workers"], timeout=120)
        if init is not None:
            self._client.run(init)
        bound = current_bound()
        if bound is not None:
            # the nanny would restart a dead worker and rerun its tasks: under a bound the
            # death fails the point instead (each nanny's worker process, no public accessor);
            # in-process workers have only the deadline
            nannies = self._cluster.workers.values() if self.processes else []
            procs = [n.process.process for n in nannies]
            self._watch = Watch(self.name, procs, bound, self._cancel_inflight)

    def _running(self) -> Any:
        if self._client is None:
            raise RuntimeError(f"{self.name} backend not started")
        if self._watch is not None:
            self._watch.check()
        return self._client

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        client = self._running()
        futures = client.map(fn, list(items), pure=False)
        if self._watch is None:
            return client.gather(futures)
        from distributed import KilledWorker
        from distributed.utils import CancelledError

        deadline = self._watch.track_deadline(running_future())  # gather has no timeout
        self._inflight.append(futures)
        try:
            return client.gather(futures)
        except (CancelledError, KilledWorker) as exc:  # the watch cancelled them
            raise self._watch.named(exc) from exc
        finally:
            settle(deadline)
            self._inflight.remove(futures)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future = concurrent_future(self._running().submit(fn, *args, pure=False))
        return future if self._watch is None else self._watch.track(future)

    def _cancel_inflight(self, failure: BackendFailure) -> None:
        """Wake the maps waiting on a cluster the watch gave up on."""
        for futures in list(self._inflight):
            self._client.cancel(futures)

    def worker_ids(self) -> list[int]:
        if self._client is None:
            return []
        if not self.processes:
            return []  # the worker threads of an in-process cluster are not addressable
        return sorted(self._client.run(os.getpid).values())

    def shutdown(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self._cluster_kwargs()}


class DaskProcessesBackend(DaskLocalBackend):
    name = "dask-processes"
    descriptor = Descriptor(
        isolation="process",
        shares_memory=False,
        arguments="pickled",
        pickler="cloudpickle",
        dispatch="scheduler",
        start_method="nanny",
        supervision="worker-restarted",  # the nanny restarts it; the task ends KilledWorker
        gil_bound=False,
    )
    processes = True


class DaskThreadsBackend(DaskLocalBackend):
    name = "dask-threads"
    descriptor = Descriptor(
        isolation="thread",
        shares_memory=True,
        arguments="reference",
        pickler="none",
        dispatch="scheduler",
        start_method="none",
        supervision="program-lost",
        gil_bound=True,
    )
    processes = False
