"""How a large input reaches workers (copied, inherited, shared_memory) and what workers do with it.

Spawned, forkserver and Dask workers import this module to run its functions, so it imports
only numpy and the standard library: a heavier import would be counted as worker memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from multiprocessing import shared_memory
from typing import Any

import numpy as np

#: none: no input; copied: a private copy in each worker (pickled into spawn/forkserver/Dask
#: workers, copied after the fork for fork workers); inherited: the parent's array used in
#: place (threads share it, fork workers see it copy-on-write); shm: multiprocessing.shared_memory
SHARING = ("none", "copied", "inherited", "shm")
DTYPE = np.float64

_HELD: list[Any] = []  # what this worker keeps alive: its view of the input, shm handles


def make_array(nbytes: int) -> np.ndarray:
    """An input array whose every page is written (untouched pages would cost nothing)."""
    a = np.empty(nbytes // np.dtype(DTYPE).itemsize, dtype=DTYPE)
    a.fill(1.0)
    return a


def hold(array: np.ndarray) -> None:
    """Init step: keep a reference (threads, fork copy-on-write, or the unpickled copy)."""
    _HELD.append(array)
    touch(array)


def hold_copy(array: np.ndarray) -> None:
    """Init step for fork workers: make the inherited array private, as unpickling would."""
    hold(np.array(array, copy=True))


def hold_shared(name: str, nbytes: int) -> None:
    """Init step: attach the shared segment by name and read it through a numpy view."""
    shm = shared_memory.SharedMemory(name=name)
    _HELD.append(shm)
    hold(np.ndarray((nbytes // np.dtype(DTYPE).itemsize,), dtype=DTYPE, buffer=shm.buf))


def touch(array: np.ndarray) -> float:
    """Read every element: maps every page into this process without writing to it."""
    return float(array.sum())


def work(order: tuple[float, int]) -> tuple[int, int]:
    """A working task: hold a scratch buffer, read the input, until the shared deadline.

    Every task stays busy until the same deadline, so all N are in flight together when the
    sampler looks; it reads rather than spins so oversubscribed N do not starve the sampler.
    Returns (pid, thread id) so the caller can count the workers that took part.
    """
    deadline, scratch_bytes = order
    scratch = make_array(scratch_bytes)
    data = _HELD[-1] if _HELD else scratch
    while time.time() < deadline:
        touch(data)
        touch(scratch)
        time.sleep(0.02)
    return os.getpid(), threading.get_ident()


@contextlib.contextmanager
def shared_array(nbytes: int) -> Iterator[shared_memory.SharedMemory]:
    """A filled shared_memory segment, closed and unlinked on exit, also on Ctrl-C."""
    shm = shared_memory.SharedMemory(create=True, size=nbytes)
    try:
        view = np.ndarray((nbytes // np.dtype(DTYPE).itemsize,), dtype=DTYPE, buffer=shm.buf)
        view.fill(1.0)
        del view  # an exported buffer would make close() fail
        yield shm
    finally:
        shm.close()
        shm.unlink()


def release() -> None:
    """Drop what this process holds (threads backend: the input lives in the measuring process)."""
    while _HELD:
        obj = _HELD.pop()
        if isinstance(obj, shared_memory.SharedMemory):
            obj.close()
