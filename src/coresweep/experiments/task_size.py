"""Task size: where does each backend start to beat serial, and what does a pool cost (claim C8).

A fixed amount of serial work (`work_seconds`) is cut into tasks of 10 µs .. 100 ms of
serial time (calibrated per kernel on one core), capped at `max_tasks` tasks, so tiny
tasks measure overhead without taking minutes. One job runs every backend in turn against
the serial reference measured in the same job; on each backend the levels of all kernels
are sampled interleaved on one warm pool, so a pool starts once. Per backend it records:

* cold start: pool or cluster start-up, up to workers that have imported and warmed every
  kernel (every start timed apart from the work; the first is the coldest);
* warm per-task overhead: wall seconds per empty task (size 0), and the fit
  t = ntasks x overhead + t_serial / p_eff over the ladder;
* speedup vs serial per task size, and the crossover size above which its 95% CI lower
  bound stays above 1 (log-interpolated). On the largest tasks, where C8 asks whether a
  pool beats serial, the serial reference is also sampled in the backend's own rounds (one
  largest task in the job's thread, times the level's task count: large tasks carry no
  per-task overhead), and that speedup is the median of the per-round ratios: a change of
  the machine's speed between the serial pass and the backend's cancels (seen on a 2-core
  EPYC VM: a 41% drift over the point left every largest-task case undecided).

Kernels are restricted to per-task kernels without inner thread pools, so nothing needs
limiting and Numba's thread pool never starts in this process (the fork backend stays safe).

Scale: a level has at least p tasks (every worker gets one), at most `max_tasks` ("auto" =
max(50, 2p), so tiny tasks still reach every worker of a big pool), and at most
`max_work_seconds` of serial work: the serial reference runs every level in this job, and
p tasks of 100 ms on 128 cores would cost 13 s per call. So on a big node the largest
tasks come fewer than p per call (their speedup is capped at their count; the table's
ntasks says so), while the small ones, where the crossover lies, use the whole pool.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import chain_init
from coresweep.config import ConfigError
from coresweep.costs import dispatch_seconds
from coresweep.crossover import break_even, crossover, overhead_fit
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import (
    NUMBA_COMPILE_SECONDS,
    PROCESS_MB,
    RUNNER_SECONDS,
    pool_mb,
    pool_start_seconds,
    sampling_seconds,
)
from coresweep.experiments.row_flags import job_flags, oversubscribed
from coresweep.experiments.rows import arm_fields, kernel_params, point_id, row_tail
from coresweep.experiments.validation import backend_names, check_tree, pool_size
from coresweep.flags import Flag
from coresweep.kernels import Kernel, get_kernel
from coresweep.kernels.user import runs_on
from coresweep.measure.calibrate import one_task, samples_per_second, size_for, timed_kernels
from coresweep.measure.cores import Node
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.timer import timed
from coresweep.records import Point, params_of, stable_hash
from coresweep.stats import paired_ratio_ci, ratio_ci, stability_flags, summarize

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "task_size"
EMPTY = "empty"
AUTO_MAX_TASKS = 50  # "auto" max_tasks = max(this, 2p)
SEP = "|"  # joins kernel and level into one arm name
PAIRED = "serial-largest"  # the arm of one serial largest task in a backend's rounds


@dataclass(frozen=True)
class Params:
    """The point: every kernel's ladder on every backend, each started start_repeats times."""

    kernels: list[str]
    backends: list[str]  # in run order (`_rank`), the reference first
    p: int
    threads: int
    task_seconds: list[float]
    work_seconds: float
    max_tasks: int
    max_work_seconds: float
    start_repeats: int
    seed: int
    protocol: dict[str, Any]
    user_kernels: dict[str, Any]  # the specs of the user-defined kernels among `kernels`


@dataclass(frozen=True)
class Level:
    """One rung of the ladder: tasks of `task_seconds` serial time each."""

    label: str
    task_seconds: float  # nominal, from the config; 0 for empty tasks
    size: int  # samples per task
    ntasks: int


#: the reference every backend is compared with: the registry's inline backend (the kernel
#: in a plain loop in the job's own thread), found by its descriptor
REFERENCE = next(n for n, b in BACKENDS.items() if b.descriptor.isolation == "inline")


def _rank(backend: str) -> tuple[bool, int, bool]:
    """Run order by descriptor: in-process backends first, then fork before anything that
    leaves helper threads behind (a scheduler's event loop), so no process forks while
    other threads of ours are alive; scheduler-dispatched backends last."""
    d = BACKENDS[backend].descriptor
    return (
        d.dispatch == "scheduler",
        {"inline": 0, "thread": 1}.get(d.isolation, 2),
        d.start_method != "fork",
    )


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    kernels = timed_kernels(cfg["kernels"], f"{key}.kernels", config.get("user_kernels"))
    backends = backend_names(cfg["backends"], f"{key}.backends")
    batch = [b for b in backends if BACKENDS[b].descriptor.batch]
    if batch:
        allowed = sorted(n for n, b in BACKENDS.items() if not b.descriptor.batch)
        raise ConfigError(
            f"config key {key}.backends: {batch} run one batch, not separate tasks; "
            f"allowed: {allowed}"
        )
    p = pool_size(cfg["p"], config["cores"], node, f"{key}.p")
    max_tasks = max(AUTO_MAX_TASKS, 2 * p) if cfg["max_tasks"] == "auto" else cfg["max_tasks"]
    prm = Params(
        kernels=[k.name for k in kernels],
        # ties in rank keep the config's order (a set's order changes with the hash seed)
        backends=sorted(dict.fromkeys([REFERENCE, *backends]), key=_rank),
        p=p,
        threads=p,
        task_seconds=sorted(cfg["task_seconds"]),
        work_seconds=cfg["work_seconds"],
        max_tasks=max_tasks,
        max_work_seconds=cfg["max_work_seconds"],
        start_repeats=cfg["start_repeats"],
        seed=config["seed"],
        protocol={**config["protocol"], **cfg["protocol"]},
        user_kernels={
            name: spec
            for k in kernels
            for name, spec in kernel_params(k).get("user_kernels", {}).items()
        },
    )
    seconds, mb = predict(prm, [k.kind for k in kernels])
    check_tree(mb, f"pools of {p} workers", f"{key}.p", node)
    return [Point(NAME, point_id(f"p{p}"), params_of(prm), job=NAME, seconds=seconds, mem_mb=mb)]


def predict(prm: Params, kinds: Sequence[str]) -> tuple[float, int]:
    """Seconds and peak MB of the point: per backend its starts, then every kernel's levels
    sampled interleaved on its last start (ideal parallel time of each call plus the
    backend's overhead per task; threads of a GIL-holding kernel run one at a time)."""
    p, protocol = prm.p, prm.protocol
    ladder = levels(prm.task_seconds, prm.work_seconds, prm.max_tasks, p, 1.0, prm.max_work_seconds)
    seconds = RUNNER_SECONDS
    peak = 0.0
    for b in prm.backends:
        d = BACKENDS[b].descriptor
        one_gil = d.isolation in ("inline", "thread") and d.gil_bound  # the caller's own GIL
        workers = 1 if d.isolation == "inline" else p
        start = pool_start_seconds(b, workers, p)
        if not one_gil and "nogil" in kinds:
            start += NUMBA_COMPILE_SECONDS  # every worker compiles while the pool starts
        overhead = dispatch_seconds(d)
        units = []
        for kind in kinds:
            width = 1 if one_gil and kind == "python" else p
            for lv in ladder:
                work = lv.ntasks * lv.task_seconds / min(width, lv.ntasks)
                units.append(work + lv.ntasks * overhead)
            if d.isolation != "inline":  # the serial largest task in the backend's rounds
                units.append(largest(ladder).task_seconds)
        seconds += prm.start_repeats * start + sampling_seconds(units, protocol)
        peak = max(peak, pool_mb(b, workers))
    return seconds, round(PROCESS_MB + peak)


def levels(
    task_seconds: Sequence[float],
    work_seconds: float,
    max_tasks: int,
    p: int,
    rate: float,
    max_work_seconds: float = math.inf,
) -> list[Level]:
    """The ladder for a kernel running `rate` samples/s, plus the empty-task level.

    A level has work_seconds / s tasks, at least p, at most max_tasks and at most
    max_work_seconds / s (at least one).
    """
    out = []
    for s in task_seconds:
        ntasks = int(min(max_tasks, max(p, round(work_seconds / s))))
        if math.isfinite(max_work_seconds):
            ntasks = max(1, min(ntasks, math.floor(max_work_seconds / s + 1e-9)))
        out.append(Level(f"{s:g}", float(s), size_for(s, rate), ntasks))
    out.append(Level(EMPTY, 0.0, 0, max_tasks))
    return out


def largest(ladder: Sequence[Level]) -> Level:
    """The ladder's level of the largest tasks (the one C8 decides on at the large end)."""
    return max((lv for lv in ladder if lv.size), key=lambda lv: lv.task_seconds)


@dataclass(frozen=True)
class Ladder:
    """One kernel's calibrated ladder and the tasks of every level."""

    kernel: Kernel
    rate: float  # samples per second on one core
    levels: list[Level]
    tasks: dict[str, list[Any]]


def _ladder(kernel: Kernel, prm: Params) -> Ladder:
    rate = samples_per_second(kernel, prm.seed)
    lv = levels(
        prm.task_seconds, prm.work_seconds, prm.max_tasks, prm.p, rate, prm.max_work_seconds
    )
    tasks = {x.label: kernel.make_tasks(x.size, x.ntasks, prm.seed) for x in lv}
    return Ladder(kernel, rate, lv, tasks)


def _arm_record(s: Any) -> dict[str, Any]:
    return {
        **arm_fields(s),
        "output": list(s.last_output),
        "deterministic": list(s.first_output) == list(s.last_output),
    }


def _init(kernels: Sequence[Kernel], seed: int) -> Any:
    """A worker's start: import and warm every kernel it runs (the whole cold cost)."""
    steps = []
    for k in kernels:
        steps += [k.compile] if k.compile is not None else []
        steps.append(functools.partial(k.run, one_task(k, 1, seed)))
    return chain_init(*steps)


def _measure_backend(
    name: str, prm: Params, ladders: list[Ladder], protocol: Protocol
) -> dict[str, Any]:
    """Start the backend start_repeats times (each timed), sample every kernel's levels on the
    last start, interleaved, and in the same rounds one largest task of each kernel in this
    thread (a pool's serial reference on the largest tasks, `PAIRED`). Its workers warm only
    the kernels it can run (a subinterpreter cannot import NumPy)."""
    d = BACKENDS[name].descriptor
    workers = 1 if d.isolation == "inline" else prm.p
    runnable = [lad for lad in ladders if runs_on(lad.kernel, d.pickler, name, d.isolation)]
    init = _init([lad.kernel for lad in runnable], prm.seed)
    starts, stops, samples = [], [], {}
    for i in range(prm.start_repeats):
        with make_backend(name, workers) as backend:
            _, t = timed(lambda b=backend: b.start(init))
            starts.append(t.wall)
            if i == prm.start_repeats - 1:
                arms = {
                    f"{lad.kernel.name}{SEP}{label}": functools.partial(
                        backend.map, lad.kernel.run, ts
                    )
                    for lad in runnable
                    for label, ts in lad.tasks.items()
                }
                if d.isolation != "inline":
                    arms |= {
                        f"{PAIRED}{SEP}{lad.kernel.name}": functools.partial(
                            lad.kernel.run, lad.tasks[largest(lad.levels).label][0]
                        )
                        for lad in runnable
                    }
                samples = sample_arms(arms, protocol, prm.seed, together=True)
            _, t = timed(backend.shutdown)
            stops.append(t.wall)
    log.info("%s: start %s s", name, ", ".join(f"{s:.3f}" for s in starts))
    out: dict[str, dict[str, Any]] = {}
    paired: dict[str, dict[str, Any]] = {}
    for key, s in samples.items():
        head, tail = key.split(SEP)  # kernel|level, or PAIRED|kernel
        if head == PAIRED:
            paired[tail] = arm_fields(s)
        else:
            out.setdefault(head, {})[tail] = _arm_record(s)
    return {"backend": name, "workers": workers, "start_s": starts, "stop_s": stops, "arms": out,
            "serial_largest": paired}  # fmt: skip


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    kernels = [get_kernel(k, prm.user_kernels) for k in prm.kernels]
    protocol = Protocol.from_config(prm.protocol)
    ladders = [_ladder(k, prm) for k in kernels]
    runs = [_measure_backend(b, prm, ladders, protocol) for b in prm.backends]
    for lad in ladders:
        _check(lad, runs)
    return {
        "p": prm.p,
        "kernels": [
            {
                "kernel": lad.kernel.name,
                "kind": lad.kernel.kind,
                "rate_samples_per_s": lad.rate,
                "levels": [asdict(x) for x in lad.levels],
            }
            for lad in ladders
        ],
        "backends": runs,
    }


def _check(lad: Ladder, runs: list[dict]) -> None:
    """Reference check per level, and every backend's results identical to serial's."""
    name = lad.kernel.name
    arms = [(r["backend"], r["arms"][name]) for r in runs if name in r["arms"]]
    for _, by_label in arms:
        for lv in lad.levels:
            arm = by_label[lv.label]
            out = arm.pop("output")
            ok = lv.size == 0 or lad.kernel.check(lad.tasks[lv.label], out).ok
            arm["check_ok"] = ok and arm["deterministic"]
            arm["checksum"] = stable_hash(out)
    serial = dict(arms)[REFERENCE]
    for backend, by_label in arms:
        for lv in lad.levels:
            arm = by_label[lv.label]
            arm["same_as_serial"] = arm["checksum"] == serial[lv.label]["checksum"]
            if not (arm["check_ok"] and arm["same_as_serial"]):
                log.error("%s %s %s: result check failed", name, backend, lv.label)


def _flags(wall: np.ndarray, arm: dict[str, Any], job: list[str]) -> list[str]:
    flags = stability_flags(wall, arm["first_run"])
    if arm["inner"] * wall.min() >= 1e-3:  # a sample repeated the call until long enough
        flags = [f for f in flags if f != Flag.SHORT_SAMPLES.at()]
    if not arm["check_ok"]:
        flags.append(Flag.CHECK_FAILED.at())
    if not arm["same_as_serial"]:
        flags.append(Flag.DIFFERS_FROM_SERIAL.at())
    return flags + job


def _rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    r = rec["result"]
    serial = next(b for b in r["backends"] if b["backend"] == REFERENCE)
    job = job_flags(r)
    rows = []
    for k in r["kernels"]:
        ladder = [Level(**x) for x in k["levels"]]
        top = largest(ladder)
        for run in r["backends"]:
            if k["kernel"] not in run["arms"]:
                continue  # a user kernel this backend cannot ship
            in_pass = run.get("serial_largest", {}).get(k["kernel"])
            for lv in ladder:
                arm = run["arms"][k["kernel"]][lv.label]
                base = np.asarray(serial["arms"][k["kernel"]][lv.label]["wall"])
                paired = np.asarray(in_pass["wall"]) * lv.ntasks if in_pass and lv == top else None
                rows.append(_row(rec, k, run, lv, arm, base, job, paired))
    return rows


def _row(
    rec: dict[str, Any],
    k: dict[str, Any],
    run: dict[str, Any],
    lv: Level,
    arm: dict[str, Any],
    base: np.ndarray,
    job: list[str],
    paired: np.ndarray | None = None,
) -> dict[str, Any]:
    """One (kernel, backend, level) row; paired: the serial time of the level sampled in the
    backend's own rounds (the largest tasks), against which the speedup is taken round by
    round (`speedup_rounds` says over how many; 0 = against the serial pass)."""
    wall = np.asarray(arm["wall"])
    s = summarize(wall)
    rounds = len(wall) if paired is not None and len(paired) == len(wall) > 1 else 0
    if not lv.size:
        speed = (np.nan,) * 3
    elif rounds:
        speed = paired_ratio_ci(paired, wall)
    else:
        speed = ratio_ci(base, wall)
    return {
        "kernel": k["kernel"],
        "kind": k["kind"],
        "backend": run["backend"],
        "p": rec["result"]["p"],
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
        "speedup_rounds": rounds,
        "busy_cores": float(np.median(arm["cpu"])) / s.median if s.median else np.nan,
        "start_s": float(np.median(run["start_s"])),
        "start_first_s": run["start_s"][0],
        "start_n": len(run["start_s"]),
        "stop_s": float(np.median(run["stop_s"])),
        "rate_samples_per_s": k["rate_samples_per_s"],
        "stopped_on": arm["stopped_on"],
        "check_ok": arm["check_ok"] and arm["same_as_serial"],
        **row_tail(rec, _flags(wall, arm, job), oversubscribed(rec, run["workers"])),
    }


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
    import pandas as pd

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


EXPERIMENT = from_module(
    __name__,
    ("C8",),
    "speedup vs task size, pool start cost and per-task overhead per backend",
)
