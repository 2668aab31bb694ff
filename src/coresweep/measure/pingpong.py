"""Ping-pong transports: one registry serving every experiment that bounces messages.

Each transport is an echo partner (a thread, a process or a Dask worker) and one way to
hand it a message: send a message, wait until it comes back. The communication experiment
(C5) times `round_trip(payload)` for messages of many sizes; the context-switch experiment
(C7) times `count(n)`, n round trips of a one-byte message, with both parties pinned to one
CPU, and reads the OS's switch counts of `partner_id()`.

A message counts as delivered when the receiver can read its bytes. A thread queue, a lock
pair and an event pair pass a reference (nothing is copied); os.pipe, Pipe and Queue copy
through the kernel (Queue also pickles); shm-event copies the message into shared memory
and the receiver reads it in place; Dask sends a task with the message as its argument and
gathers the result.

Each class declares what its partner is (`partner`: "thread", "process" or "cluster", the
descriptors' isolation words) and what runs it (`family`); tables carry those as columns,
and analysis and plots read them, never the name. A transport is a context manager: the
partner starts on entry and is stopped on exit, also on an error or Ctrl-C, and a partner
that does not stop is killed.

Echo processes import this module, so it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import secrets
import select
import struct
import threading
import warnings
from abc import ABC, abstractmethod
from multiprocessing import shared_memory
from typing import Any, ClassVar

from coresweep.config_model import Communication

STOP = None
#: how an echo process starts unless told: the config model's communication.start_method
ECHO_START = Communication().start_method
HEADER = struct.calcsize("q")  # the message length, written before the message
TICK = b"x"  # the one-byte message of count()
CHUNK = 1 << 16  # bytes per os.read / os.write of a pipe


class Transport(ABC):
    """An echo partner and the way to reach it.

    `round_trip(payload)` sends one message and returns once it is back; `count(n)` runs n
    round trips of a one-byte message in the tightest loop the transport allows;
    `echoes(payload)` checks that a message comes back intact.
    """

    name: ClassVar[str]
    #: what runs the partner: "threads", "multiprocessing" or "dask"
    family: ClassVar[str]
    #: what the partner is: "thread" (of this process), "process" or "cluster" (a Dask
    #: worker process); the side of a thread-vs-process claim the transport stands for
    partner: ClassVar[str]
    #: the partner is one thread or process this object starts itself: it inherits the
    #: caller's CPU affinity and partner_id() names it (pinning and /proc switch counts)
    own_partner: ClassVar[bool] = True
    #: seconds a partner gets to stop on its own before it is killed
    stop_timeout: ClassVar[float] = 5.0

    def __init__(
        self, max_bytes: int = 1, start_method: str = ECHO_START, timeout: float = 60.0
    ) -> None:
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
        """Stop the partner and free what start made; safe to call twice or after a
        failed start."""

    def partner_id(self) -> int:
        """The partner's native thread id or pid (0: not one thread or process of ours)."""
        return 0

    def round_trip(self, payload: bytes) -> None:
        """One timed round trip; the echoed message is dropped (shm views must not linger)."""
        self.exchange(payload)

    def count(self, n: int) -> None:
        """n round trips of a one-byte message (context switches: two per round trip)."""
        for _ in range(n):
            self.exchange(TICK)

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


# --- threads of this process ------------------------------------------------------------


class _EchoThread(Transport):
    """A transport whose partner is a daemon thread of this process."""

    family = "threads"
    partner = "thread"

    def __init__(
        self, max_bytes: int = 1, start_method: str = ECHO_START, timeout: float = 60.0
    ) -> None:
        super().__init__(max_bytes, start_method, timeout)
        self._thread: threading.Thread | None = None

    def _spawn(self, target: Any, *args: Any) -> None:
        self._thread = threading.Thread(target=target, args=args, daemon=True, name=self.name)
        self._thread.start()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join(self.stop_timeout)
            self._thread = None

    def partner_id(self) -> int:
        return (self._thread.native_id if self._thread is not None else None) or 0


def _queue_echo(inbox: Any, outbox: Any) -> None:
    while (msg := inbox.get()) is not STOP:
        outbox.put(msg)


class ThreadQueue(_EchoThread):
    """queue.Queue to an echo thread in the same process: the message is a shared reference."""

    name = "thread-queue"

    def start(self) -> None:
        self._in: queue.Queue[Any] = queue.Queue()
        self._out: queue.Queue[Any] = queue.Queue()
        self._spawn(_queue_echo, self._in, self._out)

    def exchange(self, payload: bytes) -> Any:
        self._in.put(payload)
        return self._out.get(timeout=self.timeout)

    def close(self) -> None:
        if self._thread is not None:
            self._in.put(STOP)
            self._join()


class _HandOff(_EchoThread):
    """Two binary signals, ping and pong, and a slot the message travels in by reference:
    the sender fills the slot and signals ping, the partner copies the reference back and
    signals pong."""

    def __init__(
        self, max_bytes: int = 1, start_method: str = ECHO_START, timeout: float = 60.0
    ) -> None:
        super().__init__(max_bytes, start_method, timeout)
        self._msg: Any = None
        self._stop = False

    @abstractmethod
    def _ping(self) -> None: ...

    @abstractmethod
    def _await_pong(self, timeout: float | None) -> bool: ...

    @abstractmethod
    def _serve(self) -> None:
        """The partner: wait for ping, echo the slot, signal pong, until told to stop."""

    def start(self) -> None:
        self._spawn(self._serve)

    def exchange(self, payload: bytes) -> Any:
        self._msg = payload
        self._ping()
        if not self._await_pong(self.timeout):
            raise TimeoutError(f"{self.name}: no echo within {self.timeout} s")
        return self._msg

    def close(self) -> None:
        if self._thread is not None:
            self._stop = True
            with contextlib.suppress(RuntimeError):  # already released if cut off mid-trip
                self._ping()
            self._join()


class LockPair(_HandOff):
    """Two locks used as binary semaphores: release the partner's, block on your own."""

    name = "thread-lock"

    def start(self) -> None:
        self._pings, self._pongs = threading.Lock(), threading.Lock()
        self._pings.acquire()
        self._pongs.acquire()
        super().start()

    def _ping(self) -> None:
        self._pings.release()

    def _await_pong(self, timeout: float | None) -> bool:
        return self._pongs.acquire(timeout=-1 if timeout is None else timeout)

    def _serve(self) -> None:
        while True:
            self._pings.acquire()
            if self._stop:
                return
            self._pongs.release()

    def count(self, n: int) -> None:
        ping, pong = self._pings, self._pongs
        for _ in range(n):
            ping.release()
            pong.acquire()


class EventPair(_HandOff):
    """threading.Event (a Condition inside): set the partner's, wait on your own."""

    name = "thread-event"

    def start(self) -> None:
        self._pings, self._pongs = threading.Event(), threading.Event()
        super().start()

    def _ping(self) -> None:
        self._pings.set()

    def _await_pong(self, timeout: float | None) -> bool:
        if not self._pongs.wait(timeout):
            return False
        self._pongs.clear()
        return True

    def _serve(self) -> None:
        while True:
            self._pings.wait()
            self._pings.clear()
            if self._stop:
                return
            self._pongs.set()

    def count(self, n: int) -> None:
        ping, pong = self._pings, self._pongs
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()


# --- os.pipe to a thread or a forked process --------------------------------------------


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:CHUNK]) :]


def _read_exactly(fd: int, n: int, first: bytes = b"") -> bytes | None:
    """n bytes from fd (starting with `first`); None at end of file."""
    parts, have = [first], len(first)
    while have < n:
        more = os.read(fd, min(CHUNK, n - have))
        if not more:
            return None
        parts.append(more)
        have += len(more)
    return b"".join(parts)


def _echo_fd(rfd: int, wfd: int, close: tuple[int, ...] = ()) -> None:
    """The partner of an os.pipe ping-pong: echo each message (length header + bytes) until
    a negative length, end of file or a closed reply pipe. A one-byte message takes one
    read and one write, as in any pipe ping-pong."""
    for fd in close:  # a forked partner's copies of the sender's ends: EOF must reach it
        os.close(fd)
    with contextlib.suppress(OSError):  # the sender closed its end: stop quietly
        while first := os.read(rfd, CHUNK):
            head = _read_exactly(rfd, HEADER, first) if len(first) < HEADER else first
            if head is None:
                return
            (n,) = struct.unpack_from("q", head)
            if n < 0:
                return
            msg = _read_exactly(rfd, HEADER + n, head)
            if msg is None:
                return
            _write_all(wfd, msg)


class _FdPipe(Transport):
    """Two os.pipe()s; the partner runs `_echo_fd`."""

    def __init__(
        self, max_bytes: int = 1, start_method: str = ECHO_START, timeout: float = 60.0
    ) -> None:
        super().__init__(max_bytes, start_method, timeout)
        self._fds: tuple[int, int, int, int] | None = None
        self._tick = struct.pack("q", len(TICK)) + TICK

    def start(self) -> None:
        to_r, to_w = os.pipe()
        back_r, back_w = os.pipe()
        self._fds = (to_r, to_w, back_r, back_w)
        self._start_partner(to_r, back_w, (to_w, back_r))

    @abstractmethod
    def _start_partner(self, rfd: int, wfd: int, mine: tuple[int, int]) -> None: ...

    @abstractmethod
    def _stop_partner(self) -> None: ...

    def exchange(self, payload: bytes) -> Any:
        assert self._fds is not None, f"{self.name} not started"
        _, w, r, _ = self._fds
        head = struct.pack("q", len(payload))
        if len(payload) <= CHUNK:
            _write_all(w, head + payload)  # one write: the partner reads it in one go
        else:
            _write_all(w, head)
            _write_all(w, payload)
        if not select.select([r], [], [], self.timeout)[0]:
            raise TimeoutError(f"{self.name}: no echo within {self.timeout} s")
        msg = _read_exactly(r, HEADER + len(payload))
        if msg is None:
            raise EOFError(f"{self.name}: the partner is gone")
        return msg[HEADER:]

    def count(self, n: int) -> None:
        assert self._fds is not None, f"{self.name} not started"
        _, w, r, _ = self._fds
        tick, size = self._tick, len(self._tick)
        for _ in range(n):
            os.write(w, tick)
            os.read(r, size)  # a pipe write of <= PIPE_BUF bytes arrives whole

    def close(self) -> None:
        if self._fds is None:
            return
        to_r, to_w, back_r, back_w = self._fds
        with contextlib.suppress(OSError):  # never block: a full pipe means it is stuck
            os.set_blocking(to_w, False)
            os.write(to_w, struct.pack("q", -1))
        for fd in (to_w, back_r):  # EOF and EPIPE end a partner that missed the stop
            os.close(fd)
        self._stop_partner()
        for fd in (to_r, back_w):  # the thread partner's own: closed once it is gone
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = None


class ThreadPipe(_FdPipe):
    """os.pipe() to an echo thread of this process."""

    name = "thread-pipe"
    family = "threads"
    partner = "thread"

    def _start_partner(self, rfd: int, wfd: int, mine: tuple[int, int]) -> None:
        self._thread = threading.Thread(
            target=_echo_fd, args=(rfd, wfd), daemon=True, name=self.name
        )
        self._thread.start()

    def _stop_partner(self) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(self.stop_timeout)

    def partner_id(self) -> int:
        return getattr(getattr(self, "_thread", None), "native_id", None) or 0


class _ChildProcess:
    """Stop a child process: wait stop_timeout for it to end on its own, then kill it."""

    _proc: Any = None
    stop_timeout: ClassVar[float]

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.join(self.stop_timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()

    def partner_id(self) -> int:
        return (self._proc.pid if self._proc is not None else None) or 0


class ProcessPipe(_ChildProcess, _FdPipe):
    """os.pipe() to a forked echo process (always fork: the partner inherits the fds)."""

    name = "process-pipe"
    family = "multiprocessing"
    partner = "process"

    def _start_partner(self, rfd: int, wfd: int, mine: tuple[int, int]) -> None:
        ctx = mp.get_context("fork")
        self._proc = ctx.Process(target=_echo_fd, args=(rfd, wfd, mine), daemon=True)
        self._proc.start()

    def _stop_partner(self) -> None:
        self._stop_process()


# --- multiprocessing: Pipe, Queue, shared memory ----------------------------------------


class _EchoProcess(_ChildProcess, Transport):
    """A transport whose echo partner is a child process started with `start_method`."""

    family = "multiprocessing"
    partner = "process"

    def _spawn(self, target: Any, *args: Any) -> None:
        self._proc = self.ctx.Process(target=target, args=args, daemon=True, name=self.name)
        self._proc.start()

    @property
    def ctx(self) -> Any:
        return mp.get_context(self.start_method)


def _pipe_echo(conn: Any, other: Any) -> None:
    other.close()  # a forked child's copy of the sender's end: EOF must reach this one
    with contextlib.suppress(EOFError, OSError):  # the sender closed its end: stop quietly
        while msg := conn.recv_bytes():
            conn.send_bytes(msg)
    conn.close()


class MpPipe(_EchoProcess):
    """multiprocessing.Pipe with send_bytes/recv_bytes (no pickling); an empty message or
    the sender's end closing stops the echo."""

    name = "mp-pipe"

    def start(self) -> None:
        self._conn, child = self.ctx.Pipe()
        try:
            self._spawn(_pipe_echo, child, self._conn)
        finally:
            child.close()

    def exchange(self, payload: bytes) -> Any:
        if not payload:
            raise ValueError(f"{self.name}: an empty message is the stop signal")
        self._conn.send_bytes(payload)
        if not self._conn.poll(self.timeout):
            raise TimeoutError(f"{self.name}: no echo within {self.timeout} s")
        return self._conn.recv_bytes()

    def count(self, n: int) -> None:
        conn = self._conn
        for _ in range(n):
            conn.send_bytes(TICK)
            conn.recv_bytes()  # EOFError if the partner died: never a hang

    def close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is None:
            return
        conn.close()  # the echo sees end of file and stops; no send that could block
        self._stop_process()
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
        if getattr(self, "_in", None) is None:
            return
        if self._proc is not None and self._proc.is_alive():
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
        if n > self.max_bytes:
            raise ValueError(f"{self.name}: {n} bytes exceed the segment's {self.max_bytes}")
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
            if self._proc is not None and self._proc.is_alive():
                self._send(None)
            self._stop_process()
        finally:
            shm.close()
            shm.unlink()
            self._shm = None


# --- Dask ---------------------------------------------------------------------------------


def identity(x: Any) -> Any:
    """The Dask task: return the message, so it travels to the worker and back."""
    return x


class DaskTransport(Transport):
    """One task round trip on a one-worker Dask local cluster (submit + gather)."""

    family = "dask"
    own_partner = False  # a worker of a cluster: no one thread or pid of ours to pin or count
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
    partner = "thread"
    backend = "dask-threads"


class DaskProcesses(DaskTransport):
    name = "dask-processes"
    partner = "process"
    backend = "dask-processes"


#: every ping-pong transport by its config name; "process-mp-pipe" is the context-switch
#: experiment's name for mp-pipe (the same class)
TRANSPORTS: dict[str, type[Transport]] = {
    **{
        t.name: t
        for t in (
            ThreadQueue,
            LockPair,
            EventPair,
            ThreadPipe,
            ProcessPipe,
            MpPipe,
            MpQueue,
            ShmEvent,
            DaskThreads,
            DaskProcesses,
        )
    },
    "process-mp-pipe": MpPipe,
}
