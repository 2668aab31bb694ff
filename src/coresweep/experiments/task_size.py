"""Task size: where does each backend start to beat serial, and what does a pool cost (claim C8).

A fixed amount of serial work (`work_seconds`) is cut into tasks of 10 µs .. 100 ms of
serial time (calibrated per kernel on one core), capped at `max_tasks` tasks, so tiny
tasks measure overhead without taking minutes. One job per kernel runs every backend in
turn against the serial reference measured in the same job. Per backend it records:

* cold start: pool or cluster start-up, up to workers that have imported and warmed the
  kernel (every start timed apart from the work; the first is the coldest);
* warm per-task overhead: wall seconds per empty task (size 0), and the fit
  t = ntasks x overhead + t_serial / p_eff over the ladder;
* speedup vs serial per task size, and the crossover size above which its 95% CI lower
  bound stays above 1 (log-interpolated).

Kernels are restricted to per-task kernels without inner thread pools, so nothing needs
limiting and Numba's thread pool never starts in this process (the fork backend stays safe).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coresweep.analysis.crossover import break_even, crossover, overhead_fit
from coresweep.analysis.stats import ratio_ci, stability_flags, summarize
from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import chain_init
from coresweep.config import ConfigError
from coresweep.experiments.base import Experiment, Verdict
from coresweep.experiments.common import (
    backend_names,
    job_flags,
    kernel_params,
    point_id,
    pool_size,
)
from coresweep.kernels import Kernel, get_kernel
from coresweep.kernels.user import runs_on
from coresweep.measure.calibrate import one_task, samples_per_second, size_for, timed_kernels
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.timer import timed
from coresweep.records import Point, stable_hash

log = logging.getLogger("coresweep")
NAME = "task_size"
EMPTY = "empty"
# in-process backends first, then fork before anything that leaves helper threads behind
# (Dask's event loop), so no process forks while other threads of ours are alive
RUN_ORDER = (
    "serial",
    "threads",
    "processes-fork",
    "processes-forkserver",
    "processes-spawn",
    "dask-processes",
    "dask-threads",
)


@dataclass(frozen=True)
class Level:
    """One rung of the ladder: tasks of `task_seconds` serial time each."""

    label: str
    task_seconds: float  # nominal, from the config; 0 for empty tasks
    size: int  # samples per task
    ntasks: int


def _rank(backend: str) -> int:
    return RUN_ORDER.index(backend) if backend in RUN_ORDER else len(RUN_ORDER)


def points(config: dict[str, Any], granted: int) -> list[Point]:
    cfg = config["experiments"][NAME]
    if not cfg["enabled"]:
        return []
    key = f"experiments.{NAME}"
    kernels = timed_kernels(cfg["kernels"], f"{key}.kernels", config.get("user_kernels"))
    backends = backend_names(cfg["backends"], f"{key}.backends")
    batch = [b for b in backends if BACKENDS[b].batch]
    if batch:
        allowed = sorted(n for n, b in BACKENDS.items() if not b.batch)
        raise ConfigError(
            f"config key {key}.backends: {batch} run one batch, not separate tasks; "
            f"allowed: {allowed}"
        )
    p = pool_size(cfg["p"], config["cores"], granted, f"{key}.p")
    backends = sorted({"serial", *backends}, key=_rank)  # serial is the reference
    protocol = {**config["protocol"], **cfg["protocol"]}
    out = []
    for k in kernels:
        params = {
            "kernel": k.name,
            "backends": [b for b in backends if runs_on(k, b)],
            "p": p,
            "threads": p,
            "task_seconds": sorted(cfg["task_seconds"]),
            "work_seconds": cfg["work_seconds"],
            "max_tasks": cfg["max_tasks"],
            "start_repeats": cfg["start_repeats"],
            "seed": config["seed"],
            "protocol": protocol,
            **kernel_params(k),
        }
        out.append(Point(NAME, point_id(k.name, f"p{p}"), params))
    return out


def levels(
    task_seconds: Sequence[float], work_seconds: float, max_tasks: int, p: int, rate: float
) -> list[Level]:
    """The ladder for a kernel running `rate` samples/s, plus the empty-task level."""
    out = []
    for s in task_seconds:
        ntasks = int(min(max_tasks, max(p, round(work_seconds / s))))
        out.append(Level(f"{s:g}", float(s), size_for(s, rate), ntasks))
    out.append(Level(EMPTY, 0.0, 0, max_tasks))
    return out


def _measure_backend(
    name: str,
    p: int,
    kernel: Kernel,
    tasks: dict[str, list[Any]],
    init: Any,
    protocol: Protocol,
    seed: int,
    start_repeats: int,
) -> dict[str, Any]:
    """Start the backend start_repeats times (each timed), sample all levels on the last."""
    workers = 1 if name == "serial" else p
    starts, stops, samples = [], [], {}
    for i in range(start_repeats):
        with make_backend(name, workers) as backend:
            _, t = timed(lambda b=backend: b.start(init))
            starts.append(t.wall)
            if i == start_repeats - 1:
                arms = {
                    label: functools.partial(backend.map, kernel.run, ts)
                    for label, ts in tasks.items()
                }
                samples = sample_arms(arms, protocol, seed)
            _, t = timed(backend.shutdown)
            stops.append(t.wall)
    log.info("%s: start %s s", name, ", ".join(f"{s:.3f}" for s in starts))
    return {
        "backend": name,
        "workers": workers,
        "start_s": starts,
        "stop_s": stops,
        "arms": {
            label: {
                "wall": s.wall,
                "cpu": s.cpu,
                "inner": s.inner,
                "first_run": s.first_run,
                "stopped_on": s.stopped_on,
                "output": list(s.last_output),
                "deterministic": list(s.first_output) == list(s.last_output),
            }
            for label, s in samples.items()
        },
    }


def measure(point: Point) -> dict[str, Any]:
    prm = point.params
    kernel = get_kernel(prm["kernel"], prm.get("user_kernels"))
    p, seed = prm["p"], prm["seed"]
    protocol = Protocol.from_config(prm["protocol"])
    compile_s = timed(kernel.compile)[1].wall if kernel.compile is not None else 0.0
    rate = samples_per_second(kernel, seed)
    ladder = levels(prm["task_seconds"], prm["work_seconds"], prm["max_tasks"], p, rate)
    tasks = {lv.label: kernel.make_tasks(lv.size, lv.ntasks, seed) for lv in ladder}
    # workers import and warm the kernel during start, so the start cost is the whole cold cost
    steps = [kernel.compile] if kernel.compile is not None else []
    init = chain_init(*steps, functools.partial(kernel.run, one_task(kernel, 1, seed)))
    runs = [
        _measure_backend(b, p, kernel, tasks, init, protocol, seed, prm["start_repeats"])
        for b in sorted(prm["backends"], key=_rank)
    ]
    _check(kernel, ladder, tasks, runs)
    return {
        "kernel": kernel.name,
        "kind": kernel.kind,
        "p": p,
        "rate_samples_per_s": rate,
        "compile_s": compile_s,
        "levels": [asdict(lv) for lv in ladder],
        "backends": runs,
    }


def _check(
    kernel: Kernel, ladder: list[Level], tasks: dict[str, list[Any]], runs: list[dict]
) -> None:
    """Reference check per level, and every backend's results identical to serial's."""
    serial = next(r for r in runs if r["backend"] == "serial")
    for run in runs:
        for lv in ladder:
            arm = run["arms"][lv.label]
            out = arm.pop("output")
            ok = lv.size == 0 or kernel.check(tasks[lv.label], out).ok
            arm["check_ok"] = ok and arm["deterministic"]
            arm["checksum"] = stable_hash(out)
    for run in runs:
        for lv in ladder:
            arm = run["arms"][lv.label]
            arm["same_as_serial"] = arm["checksum"] == serial["arms"][lv.label]["checksum"]
            if not (arm["check_ok"] and arm["same_as_serial"]):
                log.error("%s %s: result check failed", run["backend"], lv.label)


def _flags(wall: np.ndarray, arm: dict[str, Any], job: list[str]) -> list[str]:
    flags = stability_flags(wall, arm["first_run"])
    if arm["inner"] * wall.min() >= 1e-3:  # a sample repeated the call until long enough
        flags = [f for f in flags if f != "samples<1ms"]
    if not arm["check_ok"]:
        flags.append("check-failed")
    if not arm["same_as_serial"]:
        flags.append("differs-from-serial")
    return flags + job


def _rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    r = rec["result"]
    ladder = [Level(**lv) for lv in r["levels"]]
    serial = next(b for b in r["backends"] if b["backend"] == "serial")
    job = job_flags(r)
    rows = []
    for run in r["backends"]:
        for lv in ladder:
            arm = run["arms"][lv.label]
            wall = np.asarray(arm["wall"])
            base = np.asarray(serial["arms"][lv.label]["wall"])
            s = summarize(wall)
            speed = ratio_ci(base, wall) if lv.size else (np.nan,) * 3
            rows.append(
                {
                    "kernel": r["kernel"],
                    "kind": r["kind"],
                    "backend": run["backend"],
                    "p": r["p"],
                    "workers": run["workers"],
                    "level": "empty" if lv.label == EMPTY else "ladder",
                    "arm": lv.label,  # the nominal task size, as a row label
                    "task_seconds_nominal": lv.task_seconds,
                    "task_seconds": float(np.median(base)) / lv.ntasks if lv.size else 0.0,
                    "size": lv.size,
                    "ntasks": lv.ntasks,
                    "serial_seconds": float(np.median(base)),
                    **s.time_columns(),
                    "speedup": speed[0],
                    "speedup_ci_lo": speed[1],
                    "speedup_ci_hi": speed[2],
                    "busy_cores": float(np.median(arm["cpu"])) / s.median if s.median else np.nan,
                    "start_s": float(np.median(run["start_s"])),
                    "start_first_s": run["start_s"][0],
                    "start_n": len(run["start_s"]),
                    "stop_s": float(np.median(run["stop_s"])),
                    "rate_samples_per_s": r["rate_samples_per_s"],
                    "stopped_on": arm["stopped_on"],
                    "check_ok": arm["check_ok"] and arm["same_as_serial"],
                    "flags": ";".join(_flags(wall, arm, job)),
                    "point": rec["point"]["id"],
                    "provenance_hash": rec["provenance_hash"],
                }
            )
    return rows


def _summaries(df: pd.DataFrame) -> pd.DataFrame:
    """Per (kernel, backend): crossover, warm overhead per task, cold break-even."""
    cols = {
        "crossover_s": np.nan,
        "crossover_status": "",
        "overhead_task_s": np.nan,
        "overhead_task_ci_lo": np.nan,
        "overhead_task_ci_hi": np.nan,
        "overhead_fit_s": np.nan,
        "p_eff_fit": np.nan,
        "speedup_largest": np.nan,
        "cold_break_even_s": np.nan,
    }
    df = df.assign(**cols)
    for _, idx in df.groupby(["kernel", "backend"]).groups.items():
        g = df.loc[idx]
        lad = g[g.level == "ladder"].sort_values("task_seconds")
        empty = g[g.level == "empty"].iloc[0]
        c = crossover(lad.task_seconds, lad.speedup_ci_lo)
        fit = overhead_fit(lad.ntasks, lad.serial_seconds, lad.time_median)
        largest = float(lad.speedup.iloc[-1])
        df.loc[idx, list(cols)] = [
            c.seconds,
            c.status,
            empty.time_median / empty.ntasks,
            empty.time_ci_lo / empty.ntasks,
            empty.time_ci_hi / empty.ntasks,
            fit[0],
            fit[1],
            largest,
            break_even(float(g.start_s.iloc[0]), largest),
        ]
    return df


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    rows = [row for rec in records for row in _rows(rec)]
    if not rows:
        return pd.DataFrame()
    df = _summaries(pd.DataFrame(rows))
    df["order"] = df.backend.map(_rank)
    return (
        df.sort_values(["kernel", "order", "level", "task_seconds"])
        .drop(columns="order")
        .reset_index(drop=True)
    )


def verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    from coresweep.analysis.verdicts.task_size import task_size_verdicts

    return task_size_verdicts(table, machine)


def plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    from coresweep.report.plots.task_size import task_size_plots

    return task_size_plots(table, outdir, machine)


EXPERIMENT = Experiment(
    name=NAME,
    claims=("C8",),
    points=points,
    measure=measure,
    aggregate=aggregate,
    verdicts=verdicts,
    plots=plots,
    description="speedup vs task size, pool start cost and per-task overhead per backend",
)
