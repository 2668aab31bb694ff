"""Fault injection for the robustness experiment (C6): a faulty task among many, in any pool.

`run_cell` is what a sacrificial subprocess runs: start a registry backend, submit the
tasks (one of them faulty), report every task as it resolves, try a fresh task
afterwards, shut the backend down. Pool workers import this module (spawned workers and
Dask's import it afresh), so at module level it needs the standard library only.
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
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coresweep.backends import Backend

FAULTS = ("exception", "exit", "segv", "sigkill", "memory")
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
class Cell:
    """One faulty run: a fault injected into one task of many under one pool."""

    pool: str  # a backend registry name
    fault: str
    workers: int
    tasks: int
    faulty: int  # index of the faulty task
    task_seconds: float
    hang_seconds: float  # no task settled for this long: go on to the recovery test
    recovery_seconds: float
    memory_mib: int
    allowed_failures: int  # Dask: a task that killed more workers than this is KilledWorker


def _settle(future: Future[Any]) -> dict[str, Any]:
    try:
        future.result(timeout=0)
        return {"ok": True}
    except BaseException as exc:  # noqa: BLE001 - whatever surfaces is the measurement
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:300]}


def _report_settled(futures: dict[int, Future[Any]], emit: Callable[..., None]) -> bool:
    """Emit a task event for each future that has settled and drop it; True if any did."""
    done = [i for i, f in futures.items() if f.done()]
    for i in done:
        emit("task", index=i, **_settle(futures.pop(i)))
    return bool(done)


def _recovery(
    pool: Backend, cell: Cell, pending: dict[int, Future[Any]], emit: Callable[..., None]
) -> dict[str, Any]:
    """Can the same pool still run a fresh task? Tasks that settle meanwhile are reported."""
    t0 = time.monotonic()
    try:
        fresh = pool.submit(run_task, cell.tasks, None, cell.task_seconds, 0)
    except BaseException as exc:  # noqa: BLE001 - e.g. BrokenProcessPool on submit
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:300], "s": 0.0}
    while not fresh.done():
        _report_settled(pending, emit)
        if time.monotonic() - t0 > cell.recovery_seconds:
            return {
                "ok": False,
                "error": "hung",
                "message": "no result",
                "s": cell.recovery_seconds,
            }
        time.sleep(POLL_SECONDS)
    _report_settled(pending, emit)
    return {**_settle(fresh), "s": time.monotonic() - t0}


def _prepare(scratch: str | None, allowed_failures: int) -> None:
    """Settings for this run's pool, whichever backend it is.

    Every temporary file of this process and its workers (Dask's worker directories,
    multiprocessing's) goes under scratch, which the caller removes however the run ends.
    A Dask scheduler made after this gives up on a task that killed more than
    allowed_failures workers (KilledWorker); worker deaths are the point here, so
    distributed's log lines about them stay out of the job log.
    """
    import tempfile

    if scratch:
        os.environ["TMPDIR"] = scratch  # spawned workers inherit it
        tempfile.tempdir = scratch
    with contextlib.suppress(ImportError):
        import dask

        config: dict[str, Any] = {"distributed.scheduler.allowed-failures": allowed_failures}
        if scratch:
            config["temporary-directory"] = scratch
        dask.config.set(config)
        logging.getLogger("distributed").setLevel(logging.CRITICAL)


def run_cell(emit: Callable[..., None], cell: Cell, scratch: str | None = None) -> None:
    """Run one cell, reporting through emit: started, submitting, task (each, as it settles),
    waited (no task settled for hang_seconds), recovery, closed. A crash of this process
    ends the report wherever it is."""
    from coresweep.backends import make_backend

    _prepare(scratch, cell.allowed_failures)
    pool = make_backend(cell.pool, cell.workers)
    try:
        pool.start()
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # Dask's start resets it
        emit("started")
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
            if _report_settled(pending, emit):
                quiet_since = time.monotonic()
            time.sleep(POLL_SECONDS)
        emit("waited", pending=sorted(pending))
        emit("recovery", **_recovery(pool, cell, pending, emit))
    finally:
        pool.shutdown()
    emit("closed")
