"""Load: an open-loop stream of heavy requests at rising offered load, threads vs processes (C13).

Requests arrive on a schedule (Poisson or fixed rate) that does not wait for answers, so a
pool that falls behind shows it as growing latency instead of a politely lower rate. The
offered load is a multiple of one core's capacity (1 / the serial service time of one
request, measured in the job). Each level sends at most `requests` requests within at most
`level_seconds`, then waits up to `drain_seconds` for the answers; unfinished ones are
cancelled and counted. Latency runs from the scheduled arrival to the completion callback.

The pools are backends from the registry (`backends` lists their names; default a thread
pool and a ProcessPoolExecutor), p workers each, started through Backend.start (which runs
the kernel's warm-up in every worker) and fed through Backend.submit. They stay up for the
whole job, and the (pool, load) levels run in a seeded random order so drift spreads. A
backend whose futures cannot be taken back once submitted (`cancels_pending` False, e.g.
multiprocessing.Pool) works off its backlog after the drain deadline, untimed, so the next
level starts on an idle pool.

Scale: with `load_unit: pool` the configured loads are fractions of the whole pool's
capacity (p cores), so every node size sees the pool below, at and above saturation; the
recorded load is always in cores (configured load x p). A level offers up to
`requests_per_worker` x p requests, so p workers all get work. One thread submits every
request, and it cannot keep a schedule of tens of thousands per second: when the top level
would offer more than `max_rate` requests/s, requests get longer instead (request_seconds
grows to top load in cores / max_rate), so 128 cores get heavy requests at a rate one
submitter keeps. Both kernels share one job: the pools of one point are shut down before
the next point starts its own.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import Backend, chain_init
from coresweep.config import ConfigError
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import PROCESS_MB, RUNNER_SECONDS, pool_start_seconds
from coresweep.experiments.row_flags import job_flags, oversubscribed
from coresweep.experiments.rows import kernel_params, point_id, row_tail
from coresweep.experiments.validation import backend_names, check_tree, pool_size
from coresweep.flags import Flag
from coresweep.kernels import Kernel, get_kernel
from coresweep.measure.calibrate import one_task, samples_per_second, size_for, timed_kernels
from coresweep.measure.cores import Node
from coresweep.measure.timer import timed
from coresweep.records import OPTIONAL, Point, params_of
from coresweep.stats import N_RESAMPLES, SEED, quantile_ci

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "load"
SERVICE_SAMPLES = 15  # serial runs of one request that fix one core's capacity
CALIBRATION_SECONDS = 0.3  # predictions only: samples_per_second and the pools' warm-up tasks
#: a p99 from fewer requests than this is flagged (its interval rests on the top 1 or none)
P99_REQUESTS = 100


@dataclass(frozen=True)
class Params:
    """One kernel's point: the pools, the offered loads (in cores) and each level's bounds."""

    kernel: str
    p: int
    threads: int
    loads: list[float]  # in cores
    request_seconds: float
    requests: int
    level_seconds: float
    drain_seconds: float
    arrivals: str
    backends: list[str]
    seed: int
    user_kernels: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)


class Submits(Protocol):
    """Anything that runs one task and returns a Future: a Backend, a concurrent Executor."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]: ...


def unsuitable(name: str) -> str | None:
    """Why a registered backend cannot serve an open-loop stream (None: it can)."""
    d = BACKENDS[name].descriptor
    if d.batch:
        return "it runs a whole batch in one call and has no per-task submit"
    if d.isolation == "inline":
        return "its submit runs the request in the submitting thread, so arrivals would wait"
    if d.isolation == "cluster":
        return "its workers are not on this node, whose p cores are the capacity the loads scale"
    return None


def load_backends(names: Sequence[str], key: str) -> list[str]:
    """The configured pools, each registered and able to take a request stream; a
    ConfigError names the key, the backend and why otherwise."""
    backends = backend_names(names, key)
    for b in backends:
        why = unsuitable(b)
        if why is not None:
            allowed = [n for n in BACKENDS if unsuitable(n) is None]
            raise ConfigError(
                f"config key {key}: backend {b!r} cannot take an open-loop request stream: "
                f"{why}; allowed: {', '.join(allowed)}"
            )
    return backends


@dataclass
class Stream:
    """One level's requests: scheduled arrival, actual submission and completion (s from t0)."""

    scheduled: list[float]
    submitted: list[float]
    done: list[float]  # nan: cancelled, failed or still running at the drain deadline
    results: list[Any]
    settled: bool = True  # every request left at the drain deadline ended before the next level


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    kernels = timed_kernels(cfg["kernels"], f"{key}.kernels", config.get("user_kernels"))
    backends = load_backends(cfg["backends"], f"{key}.backends")
    p = pool_size(cfg["p"], config["cores"], node, f"{key}.p")
    # loads in cores: the pool's capacity is p cores
    loads = sorted(x * p if cfg["load_unit"] == "pool" else x for x in cfg["loads"])
    requests = cfg["requests_per_worker"] * p
    if cfg["requests"] is not None:
        requests = min(requests, cfg["requests"])
    out = []
    for k in kernels:
        prm = Params(
            kernel=k.name,
            p=p,
            threads=p,
            loads=loads,
            request_seconds=max(cfg["request_seconds"], loads[-1] / cfg["max_rate"]),
            requests=requests,
            level_seconds=cfg["level_seconds"],
            drain_seconds=cfg["drain_seconds"],
            arrivals=cfg["arrivals"],
            backends=backends,
            seed=config["seed"],
            **kernel_params(k),
        )
        seconds, mb = predict(prm, k.kind)
        check_tree(mb, f"pools of {p} workers", f"{key}.p", node)
        pid = point_id(k.name, f"p{p}")
        out.append(Point(NAME, pid, params_of(prm), job=NAME, seconds=seconds, mem_mb=mb))
    return out


def predict(prm: Params, kind: str) -> tuple[float, int]:
    """Seconds and peak MB of one kernel's point: calibration, pool starts, then per pool and
    level the arrival window, stretched while the pool works off its backlog (capacity: p
    cores, or one for a GIL-bound pool and a kernel that holds the GIL), cut off by the drain
    time where the pool takes queued requests back (else its whole backlog is worked off);
    memory: the job and every process pool's workers."""
    p, req = prm.p, prm.request_seconds
    seconds = RUNNER_SECONDS + CALIBRATION_SECONDS + SERVICE_SAMPLES * req
    workers = 0
    for name in prm.backends:
        cls = BACKENDS[name]
        seconds += pool_start_seconds(name, p, p)
        workers += p if cls.descriptor.separate_processes else 0
        capacity = 1 if (cls.descriptor.gil_bound and kind == "python") else p
        for load in prm.loads:
            n = _level_count(load / req, prm.requests, prm.level_seconds)
            window = n * req / load
            busy = max(window, n * req / capacity)
            cut = min(busy, window + prm.drain_seconds) if cls.cancels_pending else busy
            seconds += cut + req
    return seconds, round((1 + workers) * PROCESS_MB)


def gaps(arrivals: str, rate: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Inter-arrival times of n requests at `rate` per second."""
    if arrivals == "poisson":
        return rng.exponential(1 / rate, n)
    return np.full(n, 1 / rate)


class _Stamps:
    """Completion times written by the futures' callbacks, and a countdown to wait on.

    `concurrent.futures.wait` can return before a done-callback has run, so the stream
    waits on this countdown instead.
    """

    def __init__(self, n: int, t0: float) -> None:
        self.done = [math.nan] * n
        self.left = n
        self.t0 = t0
        self.cv = threading.Condition()

    def stamp(self, i: int, f: Future) -> None:
        t = time.perf_counter() - self.t0
        with self.cv:
            if not f.cancelled() and f.exception() is None:
                self.done[i] = t
            self.left -= 1
            self.cv.notify_all()

    def wait(self, timeout: float) -> bool:
        with self.cv:
            return self.cv.wait_for(lambda: self.left == 0, timeout)


def run_stream(
    executor: Submits,
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    inter: Sequence[float],
    drain_seconds: float,
    settle_seconds: float = 0.0,
) -> Stream:
    """Submit each task at its scheduled time, never waiting for answers; then drain.

    At the drain deadline the completion times are final; requests still queued are
    cancelled, and what could not be taken back gets up to `settle_seconds` more (untimed)
    to end, so the pool is idle for whatever runs next."""
    sched = np.cumsum(inter)
    submitted = []
    futures = []
    t0 = time.perf_counter()
    stamps = _Stamps(len(tasks), t0)
    for i, task in enumerate(tasks):
        delay = t0 + sched[i] - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        submitted.append(time.perf_counter() - t0)
        f = executor.submit(fn, task)
        f.add_done_callback(functools.partial(stamps.stamp, i))
        futures.append(f)
    stamps.wait(drain_seconds)
    done = list(stamps.done)  # completions after the deadline do not count
    for f in futures:
        f.cancel()  # only the ones still queued: a running request cannot be stopped
    settled = stamps.wait(settle_seconds)
    results = [f.result() if math.isfinite(d) else None for f, d in zip(futures, done, strict=True)]
    return Stream(list(sched), submitted, done, results, settled)


def _warm(executor: Submits, fn: Callable[[Any], Any], task: Any, workers: int) -> None:
    """Bring every worker up (and through its init) before any stream is timed."""
    for f in [executor.submit(fn, task) for _ in range(2 * workers)]:
        f.result()


def _check(kernel: Kernel, tasks: Sequence[Any], s: Stream) -> bool:
    """The reference check over the requests that completed."""
    idx = [i for i, d in enumerate(s.done) if math.isfinite(d)]
    return not idx or kernel.check([tasks[i] for i in idx], [s.results[i] for i in idx]).ok


def _started(stack: contextlib.ExitStack, backend: Backend, init: Callable[[], None]) -> float:
    """Start the pool (init in every worker) and warm it; the seconds that took. The pool shuts
    down when the stack closes (also on an error or Ctrl-C), its workers with it."""
    stack.enter_context(backend)
    _, t = timed(lambda: backend.start(init))
    return t.wall


def _level_count(rate: float, requests: int, level_seconds: float) -> int:
    return max(1, min(requests, math.ceil(rate * level_seconds)))


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    kernel = get_kernel(prm.kernel, prm.user_kernels)
    p, seed = prm.p, prm.seed
    rate = samples_per_second(kernel, seed)
    size = size_for(prm.request_seconds, rate)
    service = [
        timed(lambda t=t: kernel.run(t))[1].wall
        for t in kernel.make_tasks(size, SERVICE_SAMPLES, seed)
    ]
    capacity = 1 / float(np.median(service))  # requests per second on one core
    tiny = one_task(kernel, 1, seed)
    steps = [kernel.compile] if kernel.compile is not None else []
    init = chain_init(*steps, functools.partial(kernel.run, tiny))
    names = prm.backends
    rng = np.random.default_rng(seed)
    order = [(b, load) for b in names for load in prm.loads]
    order = [order[i] for i in rng.permutation(len(order))]
    levels = []
    start_s: dict[str, float] = {}
    pools: dict[str, Backend] = {}
    with contextlib.ExitStack() as stack:
        # process pools start before thread pools: a forked pool then copies no thread
        for b in sorted(names, key=lambda b: not BACKENDS[b].descriptor.separate_processes):
            pools[b] = make_backend(b, p)
            start_s[b] = _started(stack, pools[b], init)
            _, t_warm = timed(lambda b=b: _warm(pools[b], kernel.run, tiny, p))
            start_s[b] += t_warm.wall
        for i, (b, load) in enumerate(order):
            offered = load * capacity
            n = _level_count(offered, prm.requests, prm.level_seconds)
            tasks = kernel.make_tasks(size, n, seed + i)
            inter = gaps(prm.arrivals, offered, n, np.random.default_rng([seed, i]))
            # a pool that cannot take queued requests back works them off before the next
            # level: at worst all n on one worker
            settle = prm.drain_seconds + n * float(np.median(service)) * 2
            s = run_stream(pools[b], kernel.run, tasks, inter, prm.drain_seconds, settle)
            ok = _check(kernel, tasks, s)
            log.info("%s load %.2f: %d/%d done", b, load, np.isfinite(s.done).sum(), n)
            if not s.settled:
                log.warning("%s load %.2f: backlog not worked off in %.1f s", b, load, settle)
            levels.append(
                {
                    "backend": b,
                    "descriptor": pools[b].descriptor.columns(),
                    "settled": s.settled,
                    "load": load,
                    "offered_rate": offered,
                    "n": n,
                    "scheduled": s.scheduled,
                    "submitted": s.submitted,
                    "done": s.done,
                    "check_ok": ok,
                }
            )
    return {
        "kernel": kernel.name,
        "kind": kernel.kind,
        "p": p,
        "size": size,
        "rate_samples_per_s": rate,
        "service_s": service,
        "capacity_per_core": capacity,
        "start_s": start_s,
        "levels": levels,
    }


def throughput_ci(scheduled: Sequence[float], done: Sequence[float]) -> tuple[float, float, float]:
    """Completed requests per second from the first arrival to the last completion.

    The interval resamples the gaps between successive completions (an approximation that
    ignores their correlation; fixed seed).
    """
    d = np.sort(np.asarray(done, float)[np.isfinite(done)])
    if d.size == 0:
        return 0.0, 0.0, 0.0
    gaps_ = np.diff(np.concatenate([[min(scheduled)], d]))
    rate = d.size / gaps_.sum()
    if d.size < 2:
        return rate, rate, rate
    rng = np.random.default_rng(SEED)
    boot = d.size / rng.choice(gaps_, size=(N_RESAMPLES, gaps_.size)).sum(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(rate), float(lo), float(hi)


def _row(rec: dict[str, Any], lv: dict[str, Any]) -> dict[str, Any]:
    r = rec["result"]
    sched, done = np.asarray(lv["scheduled"]), np.asarray(lv["done"], float)
    ok = np.isfinite(done)
    lat = (done - sched)[ok]
    lag = np.asarray(lv["submitted"]) - sched
    p50 = quantile_ci(lat, 0.5) if lat.size else (np.nan,) * 3
    p99 = quantile_ci(lat, 0.99) if lat.size else (np.nan,) * 3
    thr = throughput_ci(sched, done)
    flags = job_flags(r)
    if (~ok).any():
        flags.append(Flag.UNFINISHED_REQUESTS.at())
    if not lv["check_ok"]:
        flags.append(Flag.CHECK_FAILED.at())
    if lat.size < P99_REQUESTS:
        flags.append(Flag.P99_FEW_REQUESTS.at(P99_REQUESTS))
    if np.quantile(lag, 0.99) > np.median(r["service_s"]):
        flags.append(Flag.ARRIVALS_LATE.at())  # the submitter fell behind its schedule
    if not lv.get("settled", True):
        flags.append(Flag.BACKLOG_CARRIED_OVER.at())  # the next level on this pool started behind
    cap = r["capacity_per_core"]
    # what the pool is, as measured (older records: the registry's descriptor of its name);
    # analysis and plots tell threads from processes by these columns, never by the name
    described = lv.get("descriptor") or BACKENDS[lv["backend"]].descriptor.columns()
    return {
        "kernel": r["kernel"],
        "kind": r["kind"],
        "backend": lv["backend"],
        "executor": "threads" if described["backend_isolation"] == "thread" else "processes",
        "p": r["p"],
        "load": lv["load"],
        "level": f"load={lv['load']:g}",
        "offered_rate": lv["offered_rate"],
        "capacity_per_core": cap,
        "service_s": float(np.median(r["service_s"])),
        "requests": lv["n"],
        "completed": int(ok.sum()),
        "unfinished": int((~ok).sum()),
        "throughput": thr[0],
        "throughput_ci_lo": thr[1],
        "throughput_ci_hi": thr[2],
        "throughput_cores": thr[0] / cap,
        "time_median": p50[0],
        "time_ci_lo": p50[1],
        "time_ci_hi": p50[2],
        "time_rel_halfwidth": (p50[2] - p50[1]) / 2 / p50[0] if p50[0] else np.nan,
        "latency_p50": p50[0],
        "latency_p99": p99[0],
        "latency_p99_ci_lo": p99[1],
        "latency_p99_ci_hi": p99[2],
        "latency_max": float(lat.max()) if lat.size else np.nan,
        "submit_lag_p99": float(np.quantile(lag, 0.99)),
        "start_s": r["start_s"][lv["backend"]],
        "check_ok": lv["check_ok"],
        **row_tail(rec, flags, oversubscribed(rec, r["p"])),
        **described,
    }


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    rows = [_row(rec, lv) for rec in records for lv in rec["result"]["levels"]]
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["kernel", "executor", "load"]).reset_index(drop=True)


EXPERIMENT = from_module(
    __name__,
    ("C13",),
    "open-loop request stream at rising load: throughput and p50/p99 latency",
)
