"""How a large input reaches workers (copied, inherited, shared_memory) and what workers do with it.

Each step is a task sent to all N workers at once through the backend's `map`; a gate makes
every task wait until N distinct workers hold one, so no worker takes two and every worker
takes part. The gate is a directory of check-in files: it needs no object inherited at
start-up, so it works the same for threads, every start method and Dask workers (one machine).

Spawned, forkserver and Dask workers import this module, so it imports the standard library
only: a heavier import would be counted as worker memory, and subinterpreter workers cannot
import NumPy at all. The input is plain bytes (a bytearray, an mmap, a shared_memory
buffer); a worker maps its pages by reading one byte of each.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import mmap
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

#: none: no input; copied: pickled into each worker as a task argument (a private copy);
#: inherited: the parent's array used in place (threads share it, fork workers see it
#: copy-on-write); shm: a multiprocessing.shared_memory segment attached by name
SHARING = ("none", "copied", "inherited", "shm")
POLL_SECONDS = 0.005
#: bytes between two reads that map every page (the smallest page size of Linux's targets)
PAGE = 4096

#: the parent's input, set before fork workers start so they inherit it
INHERITED: bytearray | None = None
_HELD: list[Any] = []  # what this worker keeps alive: its view of the input, shm handles
_LIBC: Any = None  # glibc through ctypes; False where there is none
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Gate:
    """A check-in directory for one step and the number of workers that must check in."""

    path: str
    parties: int
    timeout: float

    def wait(self) -> None:
        """Check in, then wait until every party has: a waiting task keeps its worker busy."""
        Path(self.path, f"{os.getpid()}-{threading.get_ident()}").touch()
        deadline = time.monotonic() + self.timeout
        while len(os.listdir(self.path)) < self.parties:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"only {len(os.listdir(self.path))} of {self.parties} workers took a task "
                    f"within {self.timeout:.0f} s"
                )
            time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def gates(timeout: float) -> Iterator[Any]:
    """A factory of fresh gates under one temporary directory, removed on exit."""
    root = tempfile.mkdtemp(prefix=f"coresweep-gates-{os.getpid()}-")
    counter = itertools.count()
    try:

        def make(parties: int) -> Gate:
            path = os.path.join(root, str(next(counter)))
            os.mkdir(path)
            return Gate(path, parties, timeout)

        yield make
    finally:
        shutil.rmtree(root, ignore_errors=True)


def segment_name() -> str:
    """A shared-memory name that says who made it: a leak is traceable to its process."""
    return f"coresweep-{os.getpid()}-{secrets.token_hex(4)}"


def _fill(view: memoryview) -> None:
    """Write one byte of every page (a page never written would cost nothing)."""
    view[::PAGE] = b"\x01" * len(range(0, len(view), PAGE))


def make_array(nbytes: int) -> bytearray:
    """An input whose every page is written (untouched pages would cost nothing)."""
    return bytearray(b"\x01") * nbytes


def scratch_array(nbytes: int) -> memoryview:
    """Working memory in its own mapping: freeing it unmaps it, so no later window sees it.

    From malloc, a freed 8 MiB block can stay in the arena (glibc raises its mmap threshold
    after such frees) and would inflate the next idle measurement of the same worker.
    """
    view = memoryview(mmap.mmap(-1, max(nbytes, 1)))
    _fill(view)
    return view


def touch(data: Any) -> float:
    """Read one byte of every page: maps each page into this process without writing."""
    return float(sum(memoryview(data).cast("B")[::PAGE]))


def _hold(array: Any, map_pages: bool = True) -> None:
    with _LOCK:
        _HELD.append(array)
    if map_pages:
        touch(array)  # a shared or inherited input counts only once this worker reads it


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD = 2**20


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        name = ctypes.util.find_library("c")
        lib = ctypes.CDLL(name) if name else None
        _LIBC = lib if lib is not None and hasattr(lib, "mallopt") else False
    return _LIBC


def settle_allocator() -> None:
    """Make freed large blocks leave the process, so a window measures what is in use.

    glibc raises its mmap threshold after a large block is freed and then serves blocks of
    that size from a heap, where freeing keeps them resident (in a thread's arena even
    malloc_trim cannot return them): a pickle buffer of one step would still count in the
    next. A fixed 1 MiB threshold keeps every large block in its own mapping; fork children
    inherit it. A no-op without glibc.
    """
    libc = _libc()
    if libc:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.malloc_trim(0)


def ready(gate: Gate) -> int:
    """Task: the first one every worker runs, so each has imported this module (and its
    backend its own) before it is measured."""
    gate.wait()
    settle_allocator()
    return os.getpid()


def load(order: tuple[str, Any, Gate]) -> int:
    """Task: take the input in the given sharing mode and keep it until `unload`."""
    sharing, payload, gate = order
    if sharing == "copied":
        _hold(payload, map_pages=False)  # arrived pickled: a private copy, already written
    elif sharing == "inherited":
        if INHERITED is None:
            raise RuntimeError("no inherited input: set INHERITED before the workers start")
        _hold(INHERITED)
    elif sharing == "shm":
        name, nbytes = payload
        shm = shared_memory.SharedMemory(name=name)
        with _LOCK:
            _HELD.append(shm)
        _hold(shm.buf[:nbytes])
    del order, payload  # a copied input stays alive only in _HELD
    settle_allocator()
    gate.wait()
    return os.getpid()


def work(order: tuple[float, int, Gate]) -> tuple[int, int]:
    """Task: read the input once, then compute on a scratch buffer for `seconds`.

    All N tasks start together after the gate, so they are in flight together when the
    sampler looks; they compute in short bursts rather than spin, so oversubscribed N do
    not starve the sampler. Returns (pid, thread id): the caller counts the participants.
    """
    seconds, scratch_bytes, gate = order
    scratch = scratch_array(scratch_bytes)
    gate.wait()
    with _LOCK:
        data = [h for h in _HELD if not isinstance(h, shared_memory.SharedMemory)]
    for d in data:
        touch(d)  # reading the input must not copy it (copy-on-write, shared memory)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        touch(scratch)
        time.sleep(0.01)
    return os.getpid(), threading.get_ident()


def release() -> None:
    """Drop what this process holds; views go before the segments they point into."""
    with _LOCK:
        held = _HELD[:]
        _HELD.clear()
    while held:
        obj = held.pop()
        if isinstance(obj, shared_memory.SharedMemory):
            obj.close()
        elif isinstance(obj, memoryview):
            obj.release()  # an exported buffer would make the segment's close() fail
        del obj


def unload(gate: Gate) -> int:
    """Task: drop the input in every worker (threads: the first one drops it for all)."""
    release()
    settle_allocator()
    gate.wait()
    return os.getpid()


@contextlib.contextmanager
def shared_array(nbytes: int) -> Iterator[shared_memory.SharedMemory]:
    """A filled shared_memory segment, closed and unlinked on exit, also on Ctrl-C."""
    shm = shared_memory.SharedMemory(create=True, size=nbytes, name=segment_name())
    try:
        with shm.buf[:nbytes] as view:  # released before close(), which refuses exports
            _fill(view)
        yield shm
    finally:
        shm.close()
        shm.unlink()
