"""Process-tree cleanup: no child outlives the command that started it, also on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Sequence

import psutil

from coresweep.costs import helper_modules, tracker_modules

#: resource trackers (multiprocessing's, loky's own) unlink leaked semaphores and shared
#: memory once their clients are gone, and then exit on their own: every start method's,
#: from the one table of pools (coresweep.costs)
TRACKERS = tracker_modules()
#: multiprocessing's per-interpreter helpers: they exit on their own when this process
#: does (their pipes close), and killing them early breaks every later pool of this
#: process (a reaped forkserver pid makes the next forkserver Pool fail with ECHILD)
INTERPRETER_HELPERS = helper_modules()


def runs_module(p: psutil.Process, names: Sequence[str]) -> bool:
    """Whether p's command line names one of these modules (False once p is gone)."""
    try:
        cmd = " ".join(p.cmdline())
    except psutil.Error:
        return False
    return any(n in cmd for n in names)


def is_interpreter_helper(p: psutil.Process) -> bool:
    return runs_module(p, INTERPRETER_HELPERS)


def descendants() -> list[psutil.Process]:
    """Live descendants of this process, except multiprocessing's interpreter helpers."""
    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in procs if not is_interpreter_helper(p)]


def reap_descendants(timeout: float = 0.5) -> int:
    """Terminate, then kill, every descendant (but the interpreter helpers); return how many
    were still alive."""
    procs = descendants()
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return len(procs)


_OWNERS: set[int] = set()  # processes whose SIGTERM handler raises KeyboardInterrupt


def _default_sigterm_in_child() -> None:
    """Fork children inherit the handler; a worker must die on SIGTERM (Pool.terminate).

    With the handler, a SIGTERM that lands just before a worker blocks on a semaphore is
    consumed without the Python handler ever running, and the worker waits forever.
    """
    if _OWNERS and os.getpid() not in _OWNERS:
        _OWNERS.clear()
        with contextlib.suppress(ValueError):  # not the main thread: nothing to reset
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_sigterm_in_child)


@contextlib.contextmanager
def reaped_on_exit() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt and reap all descendants when the block ends."""
    previous = signal.getsignal(signal.SIGTERM)

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _raise)
        _OWNERS.add(os.getpid())
    try:
        yield
    finally:
        reap_descendants()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
            _OWNERS.discard(os.getpid())
