"""Foreground latency while background compute runs (claim C3), and the GIL's part in it.

A probe answers requests that arrive on a fixed schedule (open loop: a late answer does
not delay the next arrival, so stalls show up in the latency instead of hiding as a lower
rate). Background compute runs as pure-Python threads, Numba nogil threads or processes,
p workers each; the GIL switch interval is varied to expose the convoy effect.

Scale: p = the cores granted, so the background fills the node (the probe competes for
a core as a real foreground thread would). The probe time per condition does not grow
with p; only pausing does for GIL-holding threads (a batch of p tasks runs one at a
time, and the idle window waits for it), which the prediction counts. The modes share
one job: each point's background pool and its driver thread end before the next starts.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.backends import BACKENDS, make_backend, select
from coresweep.config import ConfigError
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import (
    NUMBA_COMPILE_SECONDS,
    PROCESS_MB,
    RUNNER_SECONDS,
    nominal_seconds,
    pool_mb,
    pool_start_seconds,
)
from coresweep.experiments.row_flags import job_flags
from coresweep.experiments.rows import point_id, source_columns
from coresweep.experiments.validation import check_tree, known_names, pool_size
from coresweep.flags import Flag
from coresweep.kernels import get_kernel
from coresweep.measure.cores import Node
from coresweep.measure.sched import switch_interval
from coresweep.records import Point, params_of
from coresweep.stats import quantile_ci

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "responsiveness"
IDLE = "none"  # the mode of the idle windows (background paused) that every job measures
PERCENTILES = np.linspace(0, 100, 201)  # kept per condition for the ECDF plot
WARMUP_SECONDS = 0.1
SETTLE_SECONDS = 0.05  # after resuming the background, before the probe window opens
MIN_P99_SAMPLES = 500
MIN_RATE_RATIO = 0.99  # the probe keeps up when it answers 99% of the offered rate


@dataclass(frozen=True)
class Mode:
    """A background: the descriptor facts that pick its pool from the backend registry, and
    the kernel its workers run."""

    pool: Mapping[str, object]
    kernel: str

    def backend(self) -> str:
        """The registered backend these facts pick."""
        return select(**self.pool)


#: Python threads of this process, each task handed over by the caller
THREADS = {"isolation": "thread", "dispatch": "caller", "batch": False}
#: forked worker processes, each task handed over by the caller
FORKED = {"isolation": "process", "start_method": "fork", "dispatch": "caller"}
#: background mode -> its pool and kernel
MODES: dict[str, Mode] = {
    "threads-python": Mode(THREADS, "mc-python"),
    "threads-numba": Mode(THREADS, "mc-numba"),
    "processes-python": Mode(FORKED, "mc-python"),
}


@dataclass(frozen=True)
class Params:
    """What one responsiveness point measures: the probe under one background mode."""

    mode: str
    backend: str  # the registered backend the mode's pool facts picked
    kernel: str
    size: int
    workers: int
    threads: int
    switch_intervals_ms: list[float]
    probe_period_ms: float
    seconds_per_condition: float
    rounds: int
    seed: int
    protocol: dict[str, Any]


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    modes = known_names(cfg["modes"], list(MODES), f"{key}.modes")
    workers = pool_size(cfg["workers"], config["cores"], node, f"{key}.workers")
    period = cfg["probe_period_ms"]
    window = cfg["seconds_per_condition"] / cfg["rounds"]
    if window * 1000 < 20 * period:
        raise ConfigError(
            f"config key {key}.seconds_per_condition: {cfg['seconds_per_condition']} s over "
            f"{cfg['rounds']} rounds leaves fewer than 20 probe periods per window; raise it "
            f"or lower {key}.probe_period_ms"
        )
    out = []
    for mode in modes:
        kernel = MODES[mode].kernel
        prm = Params(
            mode=mode,
            backend=MODES[mode].backend(),
            kernel=kernel,
            size=cfg["task_sizes"][kernel],
            workers=workers,
            threads=workers,
            switch_intervals_ms=sorted(cfg["switch_intervals_ms"]),
            probe_period_ms=period,
            seconds_per_condition=cfg["seconds_per_condition"],
            rounds=cfg["rounds"],
            seed=config["seed"],
            protocol=config["protocol"],
        )
        seconds, mb = predict(prm)
        check_tree(mb, f"{workers} background workers", f"{key}.workers", node)
        pid = point_id(mode, f"p{workers}")
        out.append(Point(NAME, pid, params_of(prm), job=NAME, seconds=seconds, mem_mb=mb))
    return out


def predict(prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of one mode's point: the background's start, the warm-up, then
    every round visits each condition (a probe window, a settle after resuming, and before
    the idle window a wait for the batch in flight)."""
    p, backend, kernel = prm.workers, prm.backend, prm.kernel
    task = nominal_seconds(kernel, prm.size)
    # Python tasks on workers under one GIL run one at a time: a batch in flight takes p tasks
    one_gil = BACKENDS[backend].descriptor.gil_bound and get_kernel(kernel).kind == "python"
    batch = task * (p if one_gil else 1)
    conditions = 1 + len(prm.switch_intervals_ms)
    seconds = RUNNER_SECONDS + pool_start_seconds(backend, p, p) + WARMUP_SECONDS
    seconds += NUMBA_COMPILE_SECONDS * (kernel == "mc-numba")
    seconds += prm.seconds_per_condition * conditions
    seconds += prm.rounds * ((conditions - 1) * SETTLE_SECONDS + batch)
    return seconds, round(PROCESS_MB + pool_mb(backend, p))


class Background:
    """p workers running kernel tasks back to back; pausable, so idle windows pair with busy ones."""

    def __init__(self, backend: str, kernel: str, workers: int, size: int, seed: int) -> None:
        self.kernel = get_kernel(kernel)
        self.backend = make_backend(backend, workers)
        self.tasks = self.kernel.make_tasks(size, workers, seed)
        self.done = 0
        self.error: BaseException | None = None  # what stopped the background, if anything
        self._run = threading.Event()
        self._stop = threading.Event()
        self._busy = threading.Lock()  # held while a batch runs: pause() waits on it
        self._driver = threading.Thread(target=self._loop, name="background", daemon=True)

    def _loop(self) -> None:
        while True:
            self._run.wait()
            if self._stop.is_set():
                return
            with self._busy:
                if self._run.is_set():
                    try:
                        self.backend.map(self.kernel.run, self.tasks)
                    except BaseException as exc:  # a dead worker must not pass as idle time
                        self.error = exc
                        return
                    self.done += len(self.tasks)

    def pause(self) -> None:
        """Return once no background task runs (after the batch in flight)."""
        self._run.clear()
        with self._busy:
            pass

    def resume(self) -> None:
        self._run.set()

    def __enter__(self) -> Background:
        if self.kernel.compile is not None:
            self.kernel.compile()
        self.backend.start()
        self._driver.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._run.set()
        self._driver.join(timeout=30)
        self.backend.shutdown()


def _answer(k: int) -> int:
    """A request's own work: a few microseconds of Python, so it needs the GIL."""
    return sum(range(k % 7, 60))


def probe(period: float, duration: float) -> tuple[list[float], float]:
    """Answer requests due every `period` s for `duration` s; per-request latency and span.

    Latency = answer time - due time. A late probe answers its backlog at once, as a
    server with a queue would, so the achieved rate falls only when it cannot keep up.
    """
    n = max(1, round(duration / period))
    start = time.perf_counter()
    latencies = []
    for k in range(1, n + 1):
        due = start + k * period
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        _answer(k)
        latencies.append(time.perf_counter() - due)
    return latencies, time.perf_counter() - start


def _schedule(intervals: Sequence[float], rounds: int, seed: int) -> list[tuple[str, float]]:
    """Conditions in a fresh random order each round: idle (at the default switch interval)
    and busy at every switch interval, so drift of the machine spreads over all of them."""
    default = sys.getswitchinterval() * 1000
    conds = [("idle", default)] + [("busy", float(si)) for si in intervals]
    rng = np.random.default_rng(seed)
    return [conds[i] for _ in range(rounds) for i in rng.permutation(len(conds))]


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    period = prm.probe_period_ms / 1000
    window = prm.seconds_per_condition / prm.rounds
    windows = []
    with Background(prm.backend, prm.kernel, prm.workers, prm.size, prm.seed) as bg:
        default_ms = sys.getswitchinterval() * 1000
        bg.resume()
        probe(period, WARMUP_SECONDS)  # background up to speed, probe code paths hot
        for state, si in _schedule(prm.switch_intervals_ms, prm.rounds, prm.seed):
            if state == "idle":
                bg.pause()
            else:
                bg.resume()
                time.sleep(SETTLE_SECONDS)
            with switch_interval(si / 1000):
                done0 = bg.done
                lat, span = probe(period, window)
                done = bg.done - done0
            if bg.error is not None:
                raise RuntimeError(f"background {prm.mode} failed: {bg.error!r}")
            windows.append(
                {
                    "background": state,
                    "switch_interval_ms": si,
                    "latency": lat,
                    "span": span,
                    "background_tasks": done,
                }
            )
    log.info("%s: %d probe windows", prm.mode, len(windows))
    return {
        "mode": prm.mode,
        "backend": prm.backend,
        "kernel": prm.kernel,
        "size": prm.size,
        "workers": prm.workers,
        "probe_period_ms": prm.probe_period_ms,
        "default_switch_interval_ms": default_ms,
        "windows": windows,
    }


def _condition_row(
    r: dict[str, Any], mode: str, si: float, wins: list[dict[str, Any]]
) -> dict[str, Any]:
    lat = np.concatenate([w["latency"] for w in wins])
    span = sum(w["span"] for w in wins)
    p50, p50_lo, p50_hi = quantile_ci(lat, 0.50)
    p99, p99_lo, p99_hi = quantile_ci(lat, 0.99)
    offered = 1000 / r["probe_period_ms"]
    achieved = lat.size / span
    flags = job_flags(r)
    if lat.size < MIN_P99_SAMPLES:
        flags.append(Flag.P99_FEW_SAMPLES.at(MIN_P99_SAMPLES))
    if achieved < MIN_RATE_RATIO * offered:
        flags.append(Flag.PROBE_FELL_BEHIND.at())
    return {
        "mode": mode,
        "paired_with": r["mode"],
        "backend": r["backend"] if mode != IDLE else "none",
        "kernel": r["kernel"] if mode != IDLE else "none",
        "workers": r["workers"] if mode != IDLE else 0,
        "size": r["size"],
        "switch_interval_ms": si,
        "default_switch_interval_ms": r["default_switch_interval_ms"],
        "probe_period_ms": r["probe_period_ms"],
        "n": int(lat.size),
        "p50_ms": p50 * 1e3,
        "p50_ci_lo_ms": p50_lo * 1e3,
        "p50_ci_hi_ms": p50_hi * 1e3,
        "p99_ms": p99 * 1e3,
        "p99_ci_lo_ms": p99_lo * 1e3,
        "p99_ci_hi_ms": p99_hi * 1e3,
        "max_ms": float(lat.max()) * 1e3,
        "mean_ms": float(lat.mean()) * 1e3,
        "percentiles_ms": (np.percentile(lat, PERCENTILES) * 1e3).tolist(),
        "offered_rate": offered,
        "achieved_rate": achieved,
        "rate_ratio": achieved / offered,
        "background_samples_per_s": sum(w["background_tasks"] for w in wins) * r["size"] / span,
        "time_median": p50,
        "time_ci_lo": p50_lo,
        "time_ci_hi": p50_hi,
        "time_rel_halfwidth": (p50_hi - p50_lo) / 2 / p50 if p50 > 0 else float("inf"),
        "flags": ";".join(flags),
    }


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (background mode, switch interval), plus each job's paired idle row."""
    import pandas as pd

    rows = []
    for rec in records:
        r = rec["result"]
        groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
        for w in r["windows"]:
            mode = r["mode"] if w["background"] == "busy" else IDLE
            groups.setdefault((mode, w["switch_interval_ms"]), []).append(w)
        for (mode, si), wins in groups.items():
            row = _condition_row(r, mode, si, wins)
            rows.append({**row, **source_columns(rec)})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["_order"] = df["mode"].map({m: i for i, m in enumerate((IDLE, *MODES))})
    return (
        df.sort_values(["paired_with", "_order", "switch_interval_ms"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


EXPERIMENT = from_module(
    __name__,
    ("C3",),
    "probe latency under background threads, nogil threads and processes",
)
