"""Subinterpreters (PEP 684, PEP 734): workers with a GIL each, inside the caller's process.

Each worker is an interpreter of its own, driven by a thread of the caller's process, so
pure-Python code runs in parallel while nothing is shared: a task's function and arguments
are pickled in, its result (or its exception) pickled back. The function is imported by
reference inside the worker, so its module and everything that module imports must load in
a subinterpreter: NumPy, Numba and most C extensions (single-phase init) refuse to. Which
kernels may run here is their declared capability (`Kernel.subinterpreter_safe`), checked
with this descriptor's isolation by the planner, never by this backend's name.

Engines: `concurrent.futures.InterpreterPoolExecutor` on Python 3.14+; on 3.13 the private
`_interpreters` and `_interpqueues` modules, one worker interpreter per thread of a thread
pool. 3.12 has only `_xxsubinterpreters`, another private API: not supported here (the
PyPI backport `interpreters-pep-734` would need `interpreters-3-12` too; not a dependency).
Elsewhere the backend is unavailable, with the reason (`unavailable`).

Supervision "program-lost": a subinterpreter is not a process and cannot be killed or
restarted on its own. An exception in a task comes back as that task's error, and the pool
serves on; a crash (os._exit, a fatal signal, a segfault in an extension) ends the whole
process, caller and every worker with it.

Each worker's sys.path is the caller's at start (a test runner's or a user kernel's `path`
entries included), so a worker imports what the caller could.
"""

from __future__ import annotations

import concurrent.futures
import functools
import importlib
import importlib.util
import pickle
import platform
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from coresweep.backends.base import Backend, BackendUnavailable, Descriptor, Init, chain_init

#: the first Python with an interpreter pool (the private engine; the stdlib's from 3.14)
MIN_VERSION = (3, 13)
#: how long start waits for every worker interpreter to come up and run its init
START_TIMEOUT_S = 120.0

#: defined once in each worker interpreter's __main__: run one pickled call, put the pickled
#: (ok, value) on the worker's queue; an error that cannot be pickled comes back as its repr
_WORKER = """
import pickle as _pickle
import _interpqueues as _queues


def _coresweep_call(blob, qid):
    try:
        fn, args = _pickle.loads(blob)
        out = (True, fn(*args))
    except BaseException as exc:
        out = (False, exc)
    try:
        data = _pickle.dumps(out)
    except Exception as exc:
        kind = "result" if out[0] else "error"
        err = RuntimeError(f"the task's {kind} cannot be pickled back: {exc!r}; {out[1]!r}")
        data = _pickle.dumps((False, err))
    _queues.put(qid, data, 0, 1)
"""
#: the call, then the blob's name dropped: `shared` binds it in the worker's __main__, where
#: it would keep the last task's pickled arguments alive until the next call
_CALL = "_coresweep_call(_coresweep_blob, _coresweep_qid)\ndel _coresweep_blob"


def engine() -> str | None:
    """Which interpreter pool this Python offers: "executor" (InterpreterPoolExecutor,
    3.14+), "private" (_interpreters and _interpqueues, CPython 3.13), None (neither)."""
    if hasattr(concurrent.futures, "InterpreterPoolExecutor"):
        return "executor"
    if sys.version_info[:2] == (3, 13) and all(
        importlib.util.find_spec(m) is not None for m in ("_interpreters", "_interpqueues")
    ):
        return "private"
    return None


def stdlib_private(name: str) -> Any:
    """A private module of CPython 3.13's standard library (_interpreters, _interpqueues),
    imported by name: older interpreters' sys.stdlib_module_names do not list them."""
    return importlib.import_module(name)


class SubinterpretersBackend(Backend):
    name = "subinterpreters"
    descriptor = Descriptor(
        isolation="interpreter",
        shares_memory=False,
        arguments="pickled",
        pickler="pickle",
        start_method="interpreter",
        supervision="program-lost",
        gil_bound=False,
    )

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool: Any = None  # ThreadPoolExecutor (private engine) or InterpreterPoolExecutor
        self._engine: str | None = None
        self._local = threading.local()  # private engine: this driver thread's interpreter
        self._lock = threading.Lock()
        self._workers: list[tuple[int, int]] = []  # private engine: (interpreter, queue) ids
        self._tids: list[int] = []
        self._barrier: threading.Barrier | None = None

    @classmethod
    def unavailable(cls, version: tuple[int, ...] | None = None) -> str | None:
        """Why subinterpreters cannot run here, or on an interpreter of that version (None:
        they can). Another interpreter is judged by its version alone: 3.13 brings the
        private engine, 3.14 the stdlib's."""
        if version is None:
            if engine() is not None:
                return None
            this = f"{platform.python_implementation()} {platform.python_version()}"
        elif tuple(version[:2]) >= MIN_VERSION:
            return None
        else:
            this = f"Python {'.'.join(map(str, version))}"
        return (
            "needs Python 3.13 or later (concurrent.futures."
            "InterpreterPoolExecutor from 3.14, the private _interpreters module on 3.13); "
            f"this is {this}"
        )

    def start(self, init: Init | None = None) -> None:
        reason = self.unavailable()
        if reason is not None:
            raise BackendUnavailable(f"{self.name}: {reason}")
        self._engine = engine()
        if self._engine == "executor":
            self._start_executor(init)
        else:
            self._start_private(init)

    # --- 3.14+: the standard library's pool -----------------------------------------------
    def _start_executor(self, init: Init | None) -> None:
        pool_cls = concurrent.futures.InterpreterPoolExecutor  # type: ignore[attr-defined]
        steps = [functools.partial(_set_path, sys.path[:])] + ([init] if init else [])
        self._pool = pool_cls(
            self.workers, thread_name_prefix="coresweep-interp", initializer=chain_init(*steps)
        )
        # the pool starts a worker per submit while none is idle: tasks that outlast the
        # submits bring all of them up (and run init in each) before start returns
        futures = [self._pool.submit(_held_native_id, 0.05) for _ in range(self.workers)]
        self._tids = [f.result(timeout=START_TIMEOUT_S) for f in futures]

    # --- 3.13: one private interpreter per driver thread -----------------------------------
    def _start_private(self, init: Init | None) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="coresweep-interp")
        barrier = self._barrier = threading.Barrier(self.workers + 1)
        blob = None if init is None else pickle.dumps((init, ()))
        futures = [
            self._pool.submit(self._bring_up, blob, barrier, sys.path[:])
            for _ in range(self.workers)
        ]
        try:
            barrier.wait(timeout=START_TIMEOUT_S)
        except threading.BrokenBarrierError:
            # a worker's set-up or init raised (and broke the barrier): raise its own error
            done, _ = concurrent.futures.wait(futures, timeout=5, return_when="FIRST_EXCEPTION")
            for f in done:
                if f.exception() is not None:
                    raise f.exception() from None  # type: ignore[misc]
            raise
        self._tids = [f.result() for f in futures]

    def _bring_up(
        self, init_blob: bytes | None, barrier: threading.Barrier, path: list[str]
    ) -> int:
        _interpreters = stdlib_private("_interpreters")
        _interpqueues = stdlib_private("_interpqueues")
        try:
            iid = _interpreters.create()
            qid = _interpqueues.create(0, 0, 1)  # unbounded, pickled bytes
            with self._lock:
                self._workers.append((iid, qid))
            self._local.ids = (iid, qid)
            err = _interpreters.exec(iid, f"import sys\nsys.path[:] = {path!r}\n{_WORKER}")
            if err is not None:
                raise RuntimeError(f"{self.name}: worker set-up failed: {err.formatted}")
            if init_blob is not None:
                self._call_blob(init_blob)
        except BaseException:
            barrier.abort()
            raise
        barrier.wait(timeout=START_TIMEOUT_S)
        return threading.get_native_id()

    def _call_blob(self, blob: bytes) -> Any:
        _interpreters = stdlib_private("_interpreters")
        _interpqueues = stdlib_private("_interpqueues")
        iid, qid = self._local.ids
        shared = {"_coresweep_blob": blob, "_coresweep_qid": qid}
        err = _interpreters.exec(iid, _CALL, shared=shared)
        if err is not None:  # only the harness itself can fail here: the call catches all
            raise RuntimeError(f"{self.name}: worker interpreter failed: {err.formatted}")
        ok, value = pickle.loads(_interpqueues.get(qid)[0])
        if not ok:
            raise value
        return value

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        return self._call_blob(pickle.dumps((fn, args)))

    # --- the interface ---------------------------------------------------------------------
    def worker_ids(self) -> list[int]:
        return list(self._tids)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        futures = [self.submit(fn, x) for x in items]
        return [f.result() for f in futures]

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is None:
            raise RuntimeError(f"{self.name} backend not started")
        if self._engine == "executor":
            return self._pool.submit(fn, *args)
        return self._pool.submit(self._call, fn, args)

    def shutdown(self) -> None:
        """Cancel queued tasks, wait for running ones (a subinterpreter cannot be stopped in
        the middle of a call), then destroy every worker interpreter and its queue."""
        if self._barrier is not None:  # interrupted during start: release the waiting workers
            self._barrier.abort()
            self._barrier = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._workers:
            _interpreters = stdlib_private("_interpreters")
            _interpqueues = stdlib_private("_interpqueues")
            for iid, qid in self._workers:
                _interpreters.destroy(iid)
                _interpqueues.destroy(qid)
            self._workers = []


def _held_native_id(seconds: float) -> int:
    import time

    time.sleep(seconds)
    return threading.get_native_id()


def _set_path(path: list[str]) -> None:
    sys.path[:] = path
