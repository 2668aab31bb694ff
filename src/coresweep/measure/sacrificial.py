"""Run a function in a sacrificial subprocess under a hard timeout; a crash or hang is an outcome.

The function may crash its process (os._exit, a signal), hang, or start pools of its own.
Whatever it does, `run_sacrificial` returns an `Outcome` within the timeout and leaves no
process of the run alive: the child's tree is killed at the end, and orphans of processes
that died earlier are adopted (this process is their subreaper meanwhile) and killed too.
The function streams events through `emit`, so what happened before a crash is kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import multiprocessing as mp
import os
import resource
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import psutil

from coresweep.measure.cleanup import TRACKERS, descendants, runs_module

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Event:
    """Something the function reported, stamped with the system-wide monotonic clock."""

    t: float
    kind: str
    data: dict[str, Any]


@dataclass
class Outcome:
    """How a sacrificial run ended.

    status: ok (returned), error (raised), crashed (the process died), hung (timed out).
    """

    status: str
    started: float  # monotonic, when the child was started
    ended: float  # monotonic, when the end was seen (return, raise, death or timeout)
    value: Any = None
    error: str = ""  # exception type and message when status is error
    trace: str = ""  # its traceback
    exitcode: int | None = None  # negative: killed by that signal
    events: list[Event] = field(default_factory=list)
    killed: int = 0  # processes of the run still alive at its end (then killed)

    @property
    def wall(self) -> float:
        return self.ended - self.started


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


RUN_TAG = "CORESWEEP_SACRIFICIAL_RUN"  # inherited by every process of one run


def _child_main(
    conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], tag: str = ""
) -> None:
    # The supervisor decides about interrupts; injected crashes write no core files;
    # the child dies with the supervisor even if that is killed outright.
    os.environ[RUN_TAG] = tag
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    faulthandler.disable()  # a crash on purpose needs no traceback dump (pytest enables it)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    lock = threading.Lock()

    def emit(kind: str, **data: Any) -> None:
        with lock:
            conn.send((time.monotonic(), kind, data))

    try:
        value = fn(emit, *args)
        emit("__return__", value=value)
    except BaseException as exc:  # noqa: BLE001 - the outcome records any exception
        emit("__raise__", error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())
    finally:
        conn.close()


def start_method() -> str:
    """fork while this process runs one Python thread (fast, inherits imports), else spawn."""
    return "fork" if threading.active_count() == 1 else "spawn"


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def leftovers() -> list[psutil.Process]:
    """Live descendants of this process, not counting multiprocessing's own helpers."""
    return [p for p in descendants() if _alive(p)]


def kill_tree(procs: list[psutil.Process], grace: float = 1.0) -> int:
    """SIGKILL every live process but resource trackers (multiprocessing's, loky's), give
    those `grace` to clean up, then kill them too; return how many had to be killed.

    psutil handles are checked against their start time, so a recycled pid is never signalled.
    """
    alive = [p for p in procs if _alive(p)]
    trackers = [p for p in alive if runs_module(p, TRACKERS)]
    others = [p for p in alive if p not in trackers]
    for p in others:
        with contextlib.suppress(psutil.Error):
            p.kill()
    _, stubborn = psutil.wait_procs(trackers, timeout=grace)
    for p in stubborn:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return len(others) + len(stubborn)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _of_run(p: psutil.Process, tag: str) -> bool:
    try:
        return p.environ().get(RUN_TAG) == tag
    except psutil.Error:
        return False


def _adopted(before: set[int], tag: str) -> list[psutil.Process]:
    """The run's orphans, adopted via the subreaper: new descendants carrying its tag (other
    threads of this process may start children meanwhile; those are not the run's)."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and _of_run(p, tag)
    ]


def _reap(procs: list[psutil.Process]) -> None:
    """Collect the exit status of adopted processes so no zombie stays behind."""
    for p in procs:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(p.pid, os.WNOHANG)


def _clean_up(proc: mp.process.BaseProcess, before: set[int], tag: str, grace: float) -> int:
    """Kill the child's tree, then every orphan it left; return how many had to be killed."""
    killed = 0
    if proc.pid is None:  # never started; psutil.Process(None) would be this process
        return killed
    with contextlib.suppress(psutil.Error):
        killed += kill_tree(_tree(psutil.Process(proc.pid)), grace)
    proc.join(1.0)
    for _ in range(5):  # an orphan killed now may leave orphans of its own
        orphans = [p for p in _adopted(before, tag) if p.pid != proc.pid]
        if not any(map(_alive, orphans)):
            _reap(orphans)
            break
        killed += kill_tree(orphans, grace)
        psutil.wait_procs(orphans, timeout=grace)
    return killed


@contextlib.contextmanager
def _subreaper() -> Iterator[None]:
    """Orphans of the run (e.g. pool workers of a crashed child) become our children, not init's."""
    on = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        if on:
            _prctl(PR_SET_CHILD_SUBREAPER, 0)


def _drain(conn: Connection, out: Outcome) -> bool:
    """Read every waiting message into out; True once the function's last word arrived."""
    while conn.poll():
        try:
            t, kind, data = conn.recv()
        except (EOFError, OSError):
            return False
        if kind == "__return__":
            out.status, out.value, out.ended = "ok", data["value"], t
            return True
        if kind == "__raise__":
            out.status, out.error, out.trace, out.ended = "error", data["error"], data["trace"], t
            return True
        out.events.append(Event(t, kind, data))
    return False


def _watch(proc: mp.process.BaseProcess, conn: Connection, out: Outcome, deadline: float) -> None:
    """Follow the child until its last word, its death or the deadline."""
    while (left := deadline - time.monotonic()) > 0:
        ready = wait([conn, proc.sentinel], timeout=left)
        if _drain(conn, out):
            return
        if proc.sentinel in ready:
            out.status, out.ended = "crashed", time.monotonic()
            return
    out.status, out.ended = "hung", time.monotonic()


def run_sacrificial(
    fn: Callable[..., Any], args: tuple[Any, ...] = (), timeout: float = 20.0, grace: float = 2.0
) -> Outcome:
    """fn(emit, *args) in a fresh subprocess, bounded by timeout; never raises for its faults.

    fn must be picklable by reference (a module-level function) when this process runs
    more than one thread (then the child is spawned). `grace` bounds the child's own
    shutdown after fn returned; whatever of its tree is left then is killed and counted.
    """
    ctx = mp.get_context(start_method())
    recv, send = ctx.Pipe(duplex=False)
    tag = uuid.uuid4().hex
    proc = ctx.Process(target=_child_main, args=(send, fn, args, tag), name="coresweep-sacrificial")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with _subreaper():
        out = Outcome(status="hung", started=time.monotonic(), ended=float("nan"))
        proc.start()
        send.close()  # only the child writes
        try:
            _watch(proc, recv, out, out.started + timeout)
            if out.status in ("ok", "error"):
                proc.join(grace)
        finally:
            out.killed = _clean_up(proc, before, tag, min(grace, 1.0))
            out.exitcode = proc.exitcode
            recv.close()
    return out
