"""Process-tree cleanup: no child outlives the command that started it, also on Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import psutil


def descendants() -> list[psutil.Process]:
    """Live descendants of this process."""
    try:
        return psutil.Process().children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def reap_descendants(timeout: float = 0.5) -> int:
    """Terminate, then kill, every descendant; return how many were still alive.

    The timeout is short because multiprocessing's resource tracker ignores SIGTERM.
    """
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


@contextlib.contextmanager
def reaped_on_exit() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt and reap all descendants when the block ends."""
    previous = signal.getsignal(signal.SIGTERM)

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        reap_descendants()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
