"""Fault injection for the robustness experiment (C6): a faulty task among many, in any pool.

`run_cell` is what a sacrificial subprocess runs: open a pool, submit the tasks (one of
them faulty), report every task as it resolves, try a fresh task afterwards, close the
pool. Pool workers import this module (Dask spawns its workers), so at module level it
needs the standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FAULTS = ("exception", "exit", "segv", "sigkill", "memory")
POOLS = ("threads", "process-pool", "mp-pool", "dask-processes", "dask-threads")
POLL_SECONDS = 0.002
MIB = 2**20


class InjectedFault(RuntimeError):
    """The Python exception a faulty task raises on purpose."""


def _address_space() -> int:
    """Bytes of virtual memory this process maps now (first field of /proc/self/statm)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def blow_up_memory(headroom_mib: int) -> None:
    """Allocate until an RLIMIT_AS of current size + headroom stops it with MemoryError.

    The limit bounds the growth, so the machine never swaps or meets the OOM killer; it
    is process-wide (every thread of the process feels it) and restored afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + headroom_mib * MIB
    cap = min([cap] + [lim for lim in (soft, hard) if lim != resource.RLIM_INFINITY])
    hog: list[bytearray] = []
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        while True:
            hog.append(bytearray(16 * MIB))
    finally:
        hog.clear()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def inject(fault: str, memory_mib: int) -> None:
    """Fail the way `fault` says; only the calling process (or thread) is touched."""
    if fault == "exception":
        raise InjectedFault("task failed on purpose")
    if fault == "exit":
        os._exit(1)
    if fault == "segv":
        ctypes.string_at(0)  # a real invalid read, not just a signal
    if fault == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "memory":
        blow_up_memory(memory_mib)
    raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


def run_task(index: int, fault: str | None, seconds: float, memory_mib: int) -> int:
    """One task: `seconds` of waiting; the faulty one fails halfway through."""
    if fault is None:
        time.sleep(seconds)
        return index
    time.sleep(seconds / 2)
    inject(fault, memory_mib)
    return index


@dataclass(frozen=True)
class TaskPool:
    """The little every pool offers: submit, is it done, its result (or raise), close."""

    submit: Callable[..., Any]
    done: Callable[[Any], bool]
    result: Callable[[Any], Any]
    close: Callable[[], None]


def _executor_pool(ex: Any) -> TaskPool:
    return TaskPool(
        submit=ex.submit,
        done=lambda f: f.done(),
        result=lambda f: f.result(),
        close=lambda: ex.shutdown(wait=True, cancel_futures=True),
    )


def _mp_pool(workers: int) -> TaskPool:
    import multiprocessing as mp

    pool = mp.get_context("fork").Pool(workers)

    def close() -> None:
        pool.terminate()
        pool.join()

    return TaskPool(
        submit=lambda fn, *args: pool.apply_async(fn, args),
        done=lambda r: r.ready(),
        result=lambda r: r.get(0),
        close=close,
    )


def _dask_pool(workers: int, processes: bool, allowed_failures: int) -> TaskPool:
    import dask
    from distributed import Client, LocalCluster

    dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures})
    # worker deaths are the point here: keep their log lines out of the job log
    logging.getLogger("distributed").setLevel(logging.ERROR)
    # loopback only; processes=True gives every worker a Nanny that restarts it
    shape = (
        {"n_workers": workers, "threads_per_worker": 1, "host": "127.0.0.1"}
        if processes
        else {"n_workers": 1, "threads_per_worker": workers}
    )
    cluster = LocalCluster(
        processes=processes,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,
        **shape,
    )
    client = Client(cluster)
    client.wait_for_workers(shape["n_workers"], timeout=60)

    def close() -> None:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
        cluster.close(timeout=5)

    return TaskPool(
        submit=lambda fn, *args: client.submit(fn, *args, pure=False),
        done=lambda f: f.done(),
        result=lambda f: f.result(),
        close=close,
    )


def open_pool(name: str, workers: int, allowed_failures: int = 1) -> TaskPool:
    """A started pool of `workers` by name (one of POOLS)."""
    if name == "threads":
        from concurrent.futures import ThreadPoolExecutor

        return _executor_pool(ThreadPoolExecutor(workers))
    if name == "process-pool":
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        return _executor_pool(ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")))
    if name == "mp-pool":
        return _mp_pool(workers)
    if name in ("dask-processes", "dask-threads"):
        return _dask_pool(workers, name == "dask-processes", allowed_failures)
    raise ValueError(f"unknown pool {name!r}; known: {', '.join(POOLS)}")


@dataclass(frozen=True)
class Cell:
    """One faulty run: a fault injected into one task of many under one pool."""

    pool: str
    fault: str
    workers: int
    tasks: int
    faulty: int  # index of the faulty task
    task_seconds: float
    hang_seconds: float  # no task settled for this long: go on to the recovery test
    recovery_seconds: float
    memory_mib: int
    allowed_failures: int  # Dask: a task that killed more workers than this is KilledWorker


def _settle(pool: TaskPool, handle: Any) -> dict[str, Any]:
    try:
        pool.result(handle)
        return {"ok": True}
    except BaseException as exc:  # noqa: BLE001 - whatever surfaces is the measurement
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:300]}


def _report_settled(pool: TaskPool, handles: dict[int, Any], emit: Callable[..., None]) -> bool:
    """Emit a task event for each handle that has settled and drop it; True if any did."""
    done = [i for i, h in handles.items() if pool.done(h)]
    for i in done:
        emit("task", index=i, **_settle(pool, handles.pop(i)))
    return bool(done)


def _recovery(
    pool: TaskPool, cell: Cell, pending: dict[int, Any], emit: Callable[..., None]
) -> dict[str, Any]:
    """Can the same pool still run a fresh task? Tasks that settle meanwhile are reported."""
    t0 = time.monotonic()
    try:
        fresh = pool.submit(run_task, cell.tasks, None, cell.task_seconds, 0)
    except BaseException as exc:  # noqa: BLE001 - e.g. BrokenProcessPool on submit
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:300], "s": 0.0}
    while not pool.done(fresh):
        _report_settled(pool, pending, emit)
        if time.monotonic() - t0 > cell.recovery_seconds:
            return {
                "ok": False,
                "error": "hung",
                "message": "no result",
                "s": cell.recovery_seconds,
            }
        time.sleep(POLL_SECONDS)
    _report_settled(pool, pending, emit)
    return {**_settle(pool, fresh), "s": time.monotonic() - t0}


def _use_scratch(scratch: str) -> None:
    """Every temporary file of this process and its workers (Dask's worker directories,
    multiprocessing's) goes under scratch, which the caller removes however the run ends."""
    import tempfile

    os.environ["TMPDIR"] = scratch  # spawned workers inherit it
    tempfile.tempdir = scratch
    with contextlib.suppress(ImportError):
        import dask

        dask.config.set({"temporary-directory": scratch})


def run_cell(emit: Callable[..., None], cell: Cell, scratch: str | None = None) -> None:
    """Run one cell, reporting through emit: started, submitting, task (each, as it settles),
    waited (no task settled for hang_seconds), recovery, closed. A crash of this process
    ends the report wherever it is."""
    if scratch:
        _use_scratch(scratch)
    pool = open_pool(cell.pool, cell.workers, cell.allowed_failures)
    emit("started")
    try:
        emit("submitting")
        pending = {
            i: pool.submit(
                run_task,
                i,
                cell.fault if i == cell.faulty else None,
                cell.task_seconds,
                cell.memory_mib,
            )
            for i in range(cell.tasks)
        }
        quiet_since = time.monotonic()
        while pending and time.monotonic() - quiet_since < cell.hang_seconds:
            if _report_settled(pool, pending, emit):
                quiet_since = time.monotonic()
            time.sleep(POLL_SECONDS)
        emit("waited", pending=sorted(pending))
        emit("recovery", **_recovery(pool, cell, pending, emit))
    finally:
        pool.close()
    emit("closed")
