"""Threads on a single CPU (claim C10): I/O-bound, CPU-bound and mixed work, 1..64 threads.

The whole measurement is pinned to one CPU; the thread pools are started inside the pin,
so they inherit it. One sample = a batch of tasks through a pool of t threads; throughput
is tasks / wall time, per-task latency is each task's own start-to-end time. The TCP peer
plays a remote service: it runs in its own process, started before the pin, so it does
not eat the pinned CPU's time.

Scale: nothing grows with the node: everything runs on one CPU. The tcp point books two
cores where the node has them, so the peer (which plays a remote service) gets a core of
its own within the job's allocation instead of sharing the pinned one; the other kinds
book one. All kinds share one job: each point's pools and peer end before the next starts.
The runner's capacity probe checks only the pinned CPU (`protocol.probe_cpu`): the second
core is the peer's, not the experiment's. The gain of each thread count over one thread
decides C10, so sampling goes on while its interval straddles the bar (`decide`). Every
thread count samples in the same rounds (`together`), and the gain is the median of the
per-round ratios (`paired_ratio_ci`): a change of the machine's speed over the point
cancels round by round.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.backends import make_backend
from coresweep.backends.base import Backend
from coresweep.config import ConfigError
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import (
    PROCESS_MB,
    RUNNER_SECONDS,
    nominal_seconds,
    sampling_seconds,
)
from coresweep.experiments.row_flags import job_flags
from coresweep.experiments.rows import arm_fields, point_id, source_columns
from coresweep.experiments.validation import check_tree, cpu_spec, known_names
from coresweep.flags import Flag
from coresweep.kernels import Task, make_tasks
from coresweep.kernels.montecarlo import hits_python
from coresweep.measure.cores import Node
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.sched import choose_cpu, pinned
from coresweep.records import Point, params_of
from coresweep.stats import paired_ratio_ci, stability_flags, summarize

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "single_core"
KINDS = {
    "sleep": "I/O-bound: time.sleep(io_ms)",
    "tcp": "I/O-bound: 1-byte request over loopback TCP, answered after io_ms",
    "cpu": "CPU-bound: pure-Python Monte Carlo (mc-python) of cpu_samples",
    "mix": "both: the cpu task, then time.sleep(io_ms)",
}
PEER_TIMEOUT = 30.0  # seconds a TCP request may wait: a hung peer fails the job, never hangs it
TCP_ROUND_TRIP_SECONDS = 1e-4  # predictions only: a loopback request's own cost on the CPU


@dataclass(frozen=True)
class Params:
    """One kind's point: its tasks, the thread counts sampled and the CPU they share."""

    kind: str
    cpu: int | str  # "auto": resolved where the job runs
    thread_counts: list[int]
    tasks: int
    io_ms: float
    cpu_samples: int
    threads: int  # cores booked: the tcp kind's peer gets a second one where the node has it
    seed: int
    protocol: dict[str, Any]


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    kinds = known_names(cfg["kinds"], list(KINDS), f"{key}.kinds")
    cpu = cpu_spec(cfg["cpu"], f"{key}.cpu")
    counts = sorted(int(t) for t in cfg["thread_counts"])
    if counts[0] != 1:
        raise ConfigError(
            f"config key {key}.thread_counts: must include 1 (the baseline), got {counts}"
        )
    out = []
    for kind in kinds:
        prm = Params(
            kind=kind,
            cpu=cpu,
            thread_counts=counts,
            tasks=cfg["tasks"],
            io_ms=cfg["io_ms"],
            cpu_samples=cfg["cpu_samples"],
            # the TCP peer runs beside the pinned CPU: a second core where the node has one
            threads=min(2, node.cap) if kind == "tcp" else 1,
            seed=config["seed"],
            # the runner's capacity probe checks the one CPU the point is pinned to: a
            # probe of two cores measures a machine the experiment does not use
            protocol={**config["protocol"], "probe_cpu": cpu},
        )
        seconds, mb = predict(prm)
        check_tree(mb, f"the {kind} kind", key, node)
        pid = point_id(kind, f"cpu-{cpu}")
        out.append(Point(NAME, pid, params_of(prm), job=NAME, seconds=seconds, mem_mb=mb))
    return out


def predict(prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of one kind: a batch of tasks per thread count, sampled
    interleaved; on one CPU the CPU part of the tasks adds up, the waits overlap across
    threads; the tcp kind's peer is a second process."""
    io = prm.io_ms / 1000 if prm.kind != "cpu" else 0.0
    cpu = nominal_seconds("mc-python", prm.cpu_samples) if prm.kind in ("cpu", "mix") else 0.0
    cpu += TCP_ROUND_TRIP_SECONDS if prm.kind == "tcp" else 0.0
    n = prm.tasks
    units = [max(n * cpu, -(-n // min(t, n)) * io + cpu) for t in prm.thread_counts]
    seconds = RUNNER_SECONDS + sampling_seconds(units, prm.protocol, decisive=True)
    return seconds, PROCESS_MB * (2 if prm.kind == "tcp" else 1)


# --- the work ------------------------------------------------------------------------


def _sleep(io_s: float, task: Task) -> None:
    time.sleep(io_s)


def _cpu(task: Task) -> None:
    hits_python(task.size, task.seed)


def _mix(io_s: float, task: Task) -> None:
    hits_python(task.size, task.seed)
    time.sleep(io_s)


def _timed_task(fn: Callable[[Task], None], task: Task) -> float:
    """One task's own latency: from its start in a worker thread to its end."""
    t0 = time.perf_counter()
    fn(task)
    return time.perf_counter() - t0


async def _echo_after(delay: float, reader: asyncio.StreamReader, writer: Any) -> None:
    while data := await reader.read(1):
        await asyncio.sleep(delay)
        writer.write(data)
        await writer.drain()
    writer.close()


def _serve(listener: socket.socket, delay: float) -> None:
    """The delayed echo peer: one asyncio loop, every connection answered after `delay`."""
    # forked from the runner, which turns SIGTERM into KeyboardInterrupt: the peer has
    # nothing to clean up, so terminate() just ends it (no traceback per connection)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    async def main() -> None:
        server = await asyncio.start_server(
            functools.partial(_echo_after, delay), sock=listener, limit=64
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class TcpPeer:
    """A delayed echo server in a child process, and one connection per client thread."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._local = threading.local()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._proc: Any = None

    def __enter__(self) -> TcpPeer:
        ctx = mp.get_context("fork")
        self._proc = ctx.Process(target=_serve, args=(self._listener, self.delay), daemon=True)
        self._proc.start()
        return self

    def request(self, task: Task) -> None:
        sock = getattr(self._local, "sock", None)
        if sock is None:
            sock = socket.create_connection(self._listener.getsockname(), timeout=PEER_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.sock = sock
            with self._lock:
                self._socks.append(sock)
        sock.sendall(b"x")
        if sock.recv(1) != b"x":
            raise ConnectionError("TCP peer closed the connection")

    def __exit__(self, *exc: object) -> None:
        for sock in self._socks:
            sock.close()
        self._listener.close()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()


@contextlib.contextmanager
def work_for(kind: str, io_ms: float) -> Iterator[Callable[[Task], None]]:
    """The task function of a kind (with its TCP peer running while it is in use)."""
    io_s = io_ms / 1000
    if kind == "tcp":
        with TcpPeer(io_s) as peer:
            yield peer.request
    elif kind == "sleep":
        yield functools.partial(_sleep, io_s)
    elif kind == "mix":
        yield functools.partial(_mix, io_s)
    else:
        yield _cpu


# --- measuring -----------------------------------------------------------------------


def _batch(
    pool: Backend, fn: Callable[[Task], None], tasks: list[Task], seen: list[float]
) -> list[float]:
    """One sample's work: every task through the pool; their latencies go to `seen` too."""
    latencies = pool.map(functools.partial(_timed_task, fn), tasks)
    seen.extend(latencies)
    return latencies


def _all_pinned(threads: set[threading.Thread], cpu: int) -> bool:
    """Every pool thread runs on the one CPU (Linux takes a thread id for sched_getaffinity)."""
    return bool(threads) and all(os.sched_getaffinity(t.native_id or 0) == {cpu} for t in threads)


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    protocol = Protocol.from_config(prm.protocol)
    cpu, kind = choose_cpu(prm.cpu), prm.kind
    tasks = make_tasks(prm.cpu_samples, prm.tasks, prm.seed)
    pools: dict[int, Backend] = {}
    # the TCP peer starts before the pin: a remote service is not on this CPU's budget
    with work_for(kind, prm.io_ms) as fn, pinned({cpu}):
        try:  # pools end before the peer does, so no thread waits on a closed socket
            before = set(threading.enumerate())
            for t in prm.thread_counts:
                pools[t] = make_backend("threads", t)
                pools[t].start()
            pinned_ok = _all_pinned(set(threading.enumerate()) - before, cpu)
            seen: dict[int, list[float]] = {t: [] for t in pools}
            arms = {
                f"t{t}": functools.partial(_batch, pool, fn, tasks, seen[t])
                for t, pool in pools.items()
            }
            # the gain of t threads over one decides C10: sample on while it straddles
            decide = [("t1", f"t{t}") for t in pools if t != 1]
            samples = sample_arms(arms, protocol, prm.seed, together=True, decide=decide)
        finally:
            for pool in pools.values():
                pool.shutdown()
    if not pinned_ok:
        log.error("pool threads were not all pinned to CPU %d", cpu)
    arms_out = []
    for t in prm.thread_counts:
        s = samples[f"t{t}"]
        lat = np.asarray(seen[t])
        arms_out.append(
            {
                "threads": t,
                **arm_fields(s),
                "last_batch_latency": list(s.last_output),  # one per task, raw
                # every task of every call (warm-up included), summarised: too many to keep
                "task_latency": {
                    "n": int(lat.size),
                    "p50": float(np.median(lat)),
                    "p99": float(np.quantile(lat, 0.99)),
                    "max": float(lat.max()),
                    "mean": float(lat.mean()),
                },
            }
        )
    return {
        "kind": kind,
        "description": KINDS[kind],
        "cpu": cpu,
        "pinned_ok": pinned_ok,
        "tasks": prm.tasks,
        "io_ms": prm.io_ms,
        "cpu_samples": prm.cpu_samples,
        "arms": arms_out,
    }


# --- tables, verdicts, plots -----------------------------------------------------------


def _arm_row(r: dict[str, Any], a: dict[str, Any], base_wall: np.ndarray) -> dict[str, Any]:
    wall = np.asarray(a["wall"])
    s = summarize(wall)
    lat = a["task_latency"]
    gain, gain_lo, gain_hi = paired_ratio_ci(base_wall, wall)
    busy = float(np.median(np.asarray(a["cpu"]) / wall))
    flags = job_flags(r) + stability_flags(wall, a["first_run"])
    if not r["pinned_ok"]:
        flags.append(Flag.NOT_PINNED.at())
    return {
        "kind": r["kind"],
        "threads": a["threads"],
        "cpu": r["cpu"],
        "tasks": r["tasks"],
        "io_ms": r["io_ms"],
        "cpu_samples": r["cpu_samples"],
        **s.time_columns(),
        "throughput": r["tasks"] / s.median,
        "throughput_ci_lo": r["tasks"] / s.ci_hi,
        "throughput_ci_hi": r["tasks"] / s.ci_lo,
        "gain_vs_1": gain,
        "gain_ci_lo": gain_lo,
        "gain_ci_hi": gain_hi,
        "latency_n": lat["n"],
        "latency_p50_ms": lat["p50"] * 1e3,
        "latency_p99_ms": lat["p99"] * 1e3,
        "latency_max_ms": lat["max"] * 1e3,
        "busy_cores": busy,
        "pinned_ok": r["pinned_ok"],
        "stopped_on": a["stopped_on"],
        "flags": ";".join(flags),
    }


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (kind, thread count); gain = throughput relative to 1 thread, with CI."""
    import pandas as pd

    rows = []
    for rec in records:
        r = rec["result"]
        base = next(a for a in r["arms"] if a["threads"] == 1)
        for a in r["arms"]:
            row = _arm_row(r, a, np.asarray(base["wall"]))
            rows.append({**row, **source_columns(rec)})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.sort_values(["kind", "threads"]).reset_index(drop=True)


EXPERIMENT = from_module(
    __name__,
    ("C10",),
    "I/O-, CPU-bound and mixed work with 1..64 threads pinned to one CPU",
)
