"""Ping-pong transports: send a message to an echo partner and wait until it comes back.

A message counts as delivered when the receiver can read its bytes. A thread queue passes a
reference (nothing is copied); Pipe and Queue copy through the kernel (Queue also pickles);
shm-event copies the message into shared memory and the receiver reads it in place; Dask
sends a task with the message as its argument and gathers the result.

Echo processes import this module, so it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import secrets
import struct
import threading
import warnings
from abc import ABC, abstractmethod
from multiprocessing import shared_memory
from typing import Any, ClassVar

STOP = None
HEADER = struct.calcsize("q")  # the message length, written before the message


UNITS = ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def size_label(size: int) -> str:
    """8 B, 64 KiB, 16 MiB: binary units, as the message sizes are chosen."""
    for factor, unit in UNITS:
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} B"


class Transport(ABC):
    """An echo partner; `round_trip` sends one message and returns once it is back."""

    name: ClassVar[str]
    family: ClassVar[str]  # "threads", "multiprocessing" or "dask"
    kind: ClassVar[str]  # "thread" or "process": which side of the claim it stands for

    def __init__(self, max_bytes: int, start_method: str = "spawn", timeout: float = 60.0) -> None:
        self.max_bytes = max_bytes
        self.start_method = start_method
        self.timeout = timeout

    @abstractmethod
    def start(self) -> None:
        """Bring up the echo partner (not timed)."""

    @abstractmethod
    def exchange(self, payload: bytes) -> Any:
        """One round trip; returns the echoed message as the sender sees it."""

    @abstractmethod
    def close(self) -> None:
        """Stop the partner; safe to call twice."""

    def round_trip(self, payload: bytes) -> None:
        """One timed round trip; the echoed message is dropped (shm views must not linger)."""
        self.exchange(payload)

    def echoes(self, payload: bytes) -> bool:
        """One more round trip, checking that the message came back intact."""
        got = self.exchange(payload)
        return bytes(got) == payload

    def __enter__(self) -> Transport:
        try:
            self.start()
            self.exchange(b"\x00")  # returns once the partner is up, so no sample waits for it
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _queue_echo(inbox: Any, outbox: Any) -> None:
    while (msg := inbox.get()) is not STOP:
        outbox.put(msg)


class ThreadQueue(Transport):
    """queue.Queue to an echo thread in the same process: the message is a shared reference."""

    name = "thread-queue"
    family = "threads"
    kind = "thread"

    def start(self) -> None:
        self._in: queue.Queue[Any] = queue.Queue()
        self._out: queue.Queue[Any] = queue.Queue()
        self._echo = threading.Thread(target=_queue_echo, args=(self._in, self._out), daemon=True)
        self._echo.start()

    def exchange(self, payload: bytes) -> Any:
        self._in.put(payload)
        return self._out.get(timeout=self.timeout)

    def close(self) -> None:
        if getattr(self, "_echo", None) is not None:
            self._in.put(STOP)
            self._echo.join(self.timeout)
            self._echo = None


class _EchoProcess(Transport):
    """A transport whose echo partner is a child process started with `start_method`."""

    kind = "process"
    family = "multiprocessing"

    def _spawn(self, target: Any, *args: Any) -> None:
        self._proc = self.ctx.Process(target=target, args=args, daemon=True, name=self.name)
        self._proc.start()

    @property
    def ctx(self) -> Any:
        return mp.get_context(self.start_method)

    def _stop_process(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is not None:
            proc.join(self.timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
            self._proc = None


def _pipe_echo(conn: Any) -> None:
    while msg := conn.recv_bytes():
        conn.send_bytes(msg)
    conn.close()


class MpPipe(_EchoProcess):
    """multiprocessing.Pipe with send_bytes/recv_bytes (no pickling)."""

    name = "mp-pipe"

    def start(self) -> None:
        self._conn, child = self.ctx.Pipe()
        self._spawn(_pipe_echo, child)
        child.close()

    def exchange(self, payload: bytes) -> Any:
        self._conn.send_bytes(payload)
        if not self._conn.poll(self.timeout):
            raise TimeoutError(f"{self.name}: no echo within {self.timeout} s")
        return self._conn.recv_bytes()

    def close(self) -> None:
        if getattr(self, "_conn", None) is not None:
            with contextlib.suppress(OSError):
                self._conn.send_bytes(b"")
            self._stop_process()
            self._conn.close()
            self._conn = None


class MpQueue(_EchoProcess):
    """Two multiprocessing.Queue objects: pickled, written by a feeder thread, read by the echo."""

    name = "mp-queue"

    def start(self) -> None:
        self._in, self._out = self.ctx.Queue(), self.ctx.Queue()
        self._spawn(_queue_echo, self._in, self._out)

    def exchange(self, payload: bytes) -> Any:
        self._in.put(payload)
        return self._out.get(timeout=self.timeout)

    def close(self) -> None:
        if getattr(self, "_in", None) is not None:
            if getattr(self, "_proc", None) is not None and self._proc.is_alive():
                self._in.put(STOP)
            self._stop_process()
            for q in (self._in, self._out):
                q.cancel_join_thread()  # the echo is gone: nothing left to flush to it
                q.close()
            self._in = None


def _shm_echo(name: str, max_bytes: int, ping: Any, pong: Any) -> None:
    shm = shared_memory.SharedMemory(name=name)
    buf = shm.buf
    try:
        while True:
            ping.wait()
            ping.clear()
            (n,) = struct.unpack_from("q", buf, 0)
            if n < 0:
                return
            reply = HEADER + max_bytes
            buf[reply : reply + n] = buf[HEADER : HEADER + n]  # send back = copy into the outbox
            pong.set()
    finally:
        del buf
        shm.close()


class ShmEvent(_EchoProcess):
    """A shared_memory segment (an inbox and an outbox) and two Events for the handshake."""

    name = "shm-event"

    def start(self) -> None:
        self._shm = shared_memory.SharedMemory(
            create=True,
            size=HEADER + 2 * self.max_bytes,
            name=f"coresweep-{os.getpid()}-pingpong-{secrets.token_hex(4)}",
        )
        self._ping, self._pong = self.ctx.Event(), self.ctx.Event()
        self._spawn(_shm_echo, self._shm.name, self.max_bytes, self._ping, self._pong)

    def _send(self, payload: bytes | None) -> None:
        n = -1 if payload is None else len(payload)
        struct.pack_into("q", self._shm.buf, 0, n)
        if payload is not None:
            self._shm.buf[HEADER : HEADER + n] = payload
        self._ping.set()

    def exchange(self, payload: bytes) -> Any:
        self._send(payload)
        if not self._pong.wait(self.timeout):
            raise TimeoutError(f"{self.name}: no echo within {self.timeout} s")
        self._pong.clear()
        reply = HEADER + self.max_bytes
        return self._shm.buf[reply : reply + len(payload)]  # read in place

    def echoes(self, payload: bytes) -> bool:
        view = self.exchange(payload)
        try:
            return view == payload
        finally:
            view.release()

    def close(self) -> None:
        shm = getattr(self, "_shm", None)
        if shm is None:
            return
        try:
            if getattr(self, "_proc", None) is not None and self._proc.is_alive():
                self._send(None)
            self._stop_process()
        finally:
            shm.close()
            shm.unlink()
            self._shm = None


def identity(x: Any) -> Any:
    """The Dask task: return the message, so it travels to the worker and back."""
    return x


class DaskTransport(Transport):
    """One task round trip on a one-worker Dask local cluster (submit + gather)."""

    family = "dask"
    backend: ClassVar[str]

    def start(self) -> None:
        from coresweep.backends import make_backend

        self._backend = make_backend(self.backend, 1)
        self._backend.start()

    def exchange(self, payload: bytes) -> Any:
        with warnings.catch_warnings():
            # "Sending large graph": sending the message in the task is the point here
            warnings.filterwarnings("ignore", message=".*[Ll]arge (graph|object)")
            return self._backend.map(identity, [payload])[0]

    def close(self) -> None:
        if getattr(self, "_backend", None) is not None:
            self._backend.shutdown()
            self._backend = None


class DaskThreads(DaskTransport):
    name = "dask-threads"
    kind = "thread"
    backend = "dask-threads"


class DaskProcesses(DaskTransport):
    name = "dask-processes"
    kind = "process"
    backend = "dask-processes"


TRANSPORTS: dict[str, type[Transport]] = {
    t.name: t for t in (ThreadQueue, MpPipe, MpQueue, ShmEvent, DaskThreads, DaskProcesses)
}
