"""Robustness: one faulty task among many under each pool (claim C6).

One job per backend; inside it, each fault runs in its own sacrificial subprocess under a
hard timeout (`measure.sacrificial`), so a crash or a hang of the pool, or of the whole
program for thread backends, is a measured outcome. The subprocess streams every task's
result as the caller sees it; the table derives per cell: other tasks completed / lost /
hung, the time until the first error reached the caller, and whether the pool still ran a
fresh task afterwards. Pools are backends from the registry (`experiments.faults.backends`
lists their names), started and fed through Backend.start and Backend.submit; the table
carries each backend's descriptor, by which the verdict selects.

Scale: nothing grows with the node. `workers` stays 2 by default on any node: whether one
worker's failure spares the others does not depend on the pool's width, and a wider Dask
pool only makes every faulty run slower to start and to restart. All backends share one
job (every cell runs in its own sacrificial subprocess, whose tree is killed and checked
afterwards), with the Dask backends last: they import distributed into the job process.

Trials: an outcome is categorical, so each cell runs several trials (`trials` for the hard
faults, which kill a worker process or the program: exit, segv, sigkill;
`exception_trials` for the exception and the MemoryError, which no pool turns into a dead
worker: each returns as the task's result wherever it ran). The faulty task moves between
trials (trial 0 takes `faulty_task`, later trials the other indices in an order drawn from
the seed), so a loss that depends on where tasks landed shows up. One trial in which
another task was lost or hung (the caller dying loses them all) decides that the cell can
lose its neighbours: with `stop_at_first_loss` the cell stops there; only isolation needs
every trial (a fork pool whose dead worker's own task never returns, while every other task
completes, isolates).
The table keeps one row per cell: the counts over its trials (`trials`, `trials_others_lost`,
`trials_hung`, `trials_isolated`, `trials_caller_died`) beside the columns of its most
frequent outcome (the worse one on a tie), with timings as medians over the trials.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.backends import BACKENDS
from coresweep.config import ConfigError
from coresweep.costs import cell_pool_seconds, restart_seconds
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import PROCESS_MB, RUNNER_SECONDS, pool_mb
from coresweep.experiments.row_flags import job_flags
from coresweep.experiments.rows import point_id, row_tail
from coresweep.experiments.validation import backend_names, check_memory, check_tree, known_names
from coresweep.flags import Flag
from coresweep.measure.cores import Node
from coresweep.measure.faultinject import FAULTS, MIB, Cell, run_cell
from coresweep.measure.sacrificial import (
    Outcome,
    kill_tree,
    leftovers,
    run_sacrificial,
    start_method,
)
from coresweep.records import Point, params_of
from coresweep.stats import zero_of_n_needed

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "faults"
#: by the descriptor's dispatch, the heavy modules a pool's start imports (speed only: a
#: backend left out just imports them in every sacrificial child): Dask's scheduler. Their
#: backends run last, because a job that imported distributed runs threads, and its later
#: children are spawned, not forked
PRELOAD = {"scheduler": ("distributed",)}
SUBPROCESS_SECONDS = 0.3  # the sacrificial subprocess itself: start, report, close
#: predictions only: faults that end the worker process they hit (memory raises MemoryError
#: in a process worker, which survives it) ...
KILLS_WORKER = ("exit", "segv", "sigkill")
#: ... and the supervision under which that loses a neighbour at once (the program, the
#: pool, the tasks in flight), so with stop_at_first_loss the first trial ends the cell; the
#: other cells run every trial: a fork pool's other tasks complete, Dask's nanny reschedules
#: them (measured here, 2026-12-06, per trial: threads 0.15 s, process-pool 0.57,
#: processes-fork 1.34 with hang_seconds 1, loky 0.65, dask-processes 1.6-1.8)
LOSES_AT_ONCE = ("program-lost", "pool-broken", "pool-restarted")
#: predictions only: the chance per trial that a worker's death takes a neighbour where that
#: depends on task placement. A Dask worker killed under its nanny: the first loss came at
#: trial 6, 2 and 1 (exit, segv, sigkill; default run H, 2026-12-07), about 1 in 3
LOSS_PER_TRIAL = {"worker-restarted": 0.35}
#: predictions only: a trial whose fault ends the whole program (threads of the sacrificial
#: subprocess): it dies halfway through its first task (measured 0.14-0.15 s here)
CRASH_SECONDS = 0.15
#: outcomes from the worst to the best: a tie of frequencies takes the worse
SEVERITY = ("crashed", "error", "hung", "pool-broken", "others-lost", "isolated")


@dataclass(frozen=True)
class Params:
    """A faults point: every fault's trials on one backend's pool (see the module docstring)."""

    backend: str
    faults: list[str]
    #: the Cell fields every trial shares: workers, tasks, task_seconds, hang_seconds,
    #: recovery_seconds, memory_mib, allowed_failures
    cell: dict[str, Any]
    placements: list[int]
    trials: dict[str, int]
    stop_at_first_loss: bool
    isolation_rate: float
    max_trials: int
    timeout_seconds: float
    threads: int
    seed: int
    protocol: dict[str, Any]


def _preload(backend: str) -> tuple[str, ...]:
    """What the job imports before the backend's cells so each sacrificial child starts warm."""
    return PRELOAD.get(BACKENDS[backend].descriptor.dispatch, ())


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    backends = backend_names(cfg["backends"], f"{key}.backends")
    batch = [b for b in backends if BACKENDS[b].descriptor.batch]
    if batch:
        raise ConfigError(
            f"config key {key}.backends: {batch} run a whole batch in one call and cannot "
            "submit one faulty task among others; allowed: backends with per-task submit"
        )
    faults = known_names(cfg["faults"], FAULTS, f"{key}.faults")
    if not 0 <= cfg["faulty_task"] < cfg["tasks"]:
        raise ConfigError(
            f"config key {key}.faulty_task: {cfg['faulty_task']} is not a task index; "
            f"allowed: 0..{cfg['tasks'] - 1} ({key}.tasks = {cfg['tasks']})"
        )
    needed = cfg["hang_seconds"] + cfg["recovery_seconds"] + 2 * cfg["task_seconds"] * cfg["tasks"]
    if needed >= cfg["timeout_seconds"]:
        raise ConfigError(
            f"config key {key}.timeout_seconds: {cfg['timeout_seconds']} s leaves no room to "
            f"start and close a pool after hang_seconds + recovery_seconds + the tasks "
            f"({needed:.1f} s); allowed: more than {needed:.1f}"
        )
    # the blow-up is bounded by RLIMIT_AS, but the machine must have that much to give
    check_memory(cfg["memory_mib"] * MIB, "the memory fault", f"{key}.memory_mib", node)
    cell = {k: cfg[k] for k in ("workers", "tasks", "task_seconds", "hang_seconds")}
    cell |= {
        "recovery_seconds": cfg["recovery_seconds"],
        "memory_mib": cfg["memory_mib"],
        "allowed_failures": cfg["dask_allowed_failures"],
    }
    out = []
    for b in sorted(backends, key=lambda b: bool(_preload(b))):  # see PRELOAD
        params = Params(
            backend=b,
            faults=faults,
            cell=cell,
            placements=placements(cfg["faulty_task"], cfg["tasks"], config["seed"]),
            trials={
                f: cfg["trials"] if f in KILLS_WORKER else cfg["exception_trials"] for f in faults
            },
            stop_at_first_loss=cfg["stop_at_first_loss"],
            isolation_rate=cfg["isolation_rate"],
            max_trials=max(cfg["max_trials"], cfg["trials"]),
            timeout_seconds=cfg["timeout_seconds"],
            threads=min(cfg["workers"], node.cap),
            seed=config["seed"],
            # an outcome, not a timing: a shortfall of cores does not change it, so no retry
            protocol={**config["protocol"], "retries": 0},
        )
        seconds, mb = predict(params)
        check_tree(mb, f"a {b} pool of {cfg['workers']} workers", f"{key}.workers", node)
        pid = point_id(b, f"w{cfg['workers']}")
        out.append(Point(NAME, pid, params_of(params), job=NAME, seconds=seconds, mem_mb=mb))
    return out


def placements(first: int, tasks: int, seed: int) -> list[int]:
    """The faulty task's index per trial: `first`, then every other index in an order drawn
    from the seed (trial i takes entry i modulo the tasks)."""
    rest = [i for i in range(tasks) if i != first]
    order = np.random.default_rng(seed).permutation(rest)
    return [first, *(int(i) for i in order)]


def isolation_shown(trials: int, prm: Params) -> bool:
    """Whether `trials` clean trials already bound the loss rate below isolation_rate."""
    return trials >= zero_of_n_needed(prm.isolation_rate)


def expected_trials(supervision: str, fault: str, prm: Params) -> float:
    """Trials a cell is predicted to run: one when the first loses a neighbour, else as many
    clean trials as isolation needs (within max_trials); where a loss is a matter of chance
    (LOSS_PER_TRIAL q), the expected count up to the first loss: (1 - (1-q)^n) / q."""
    at_once = fault in KILLS_WORKER and supervision in LOSES_AT_ONCE
    trials = prm.trials[fault]
    if at_once and prm.stop_at_first_loss:
        return 1
    if fault not in KILLS_WORKER:  # isolation is decided on the faults that end a worker
        return trials
    n = max(trials, min(prm.max_trials, zero_of_n_needed(prm.isolation_rate)))
    q = LOSS_PER_TRIAL.get(supervision, 0.0) if prm.stop_at_first_loss else 0.0
    return (1 - (1 - q) ** n) / q if q else n


def predict(prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of one backend: per fault its expected trials, each a sacrificial
    run (its start, the pool's, the tasks on the workers, a wait of hang_seconds when a task
    was lost with its worker, the recovery task after a restart) bounded by
    timeout_seconds; memory: the job, the subprocess, its pool and the memory fault's
    headroom."""
    b, c = prm.backend, prm.cell
    descriptor = BACKENDS[b].descriptor
    supervision = descriptor.supervision
    restart = restart_seconds(descriptor)
    # only a lost task is waited for (hang_seconds); a broken or restarting pool settles it
    hang = c["hang_seconds"] if supervision == "worker-replaced-task-lost" else 0.0
    start = SUBPROCESS_SECONDS + cell_pool_seconds(descriptor)
    tasks = c["tasks"] * c["task_seconds"] / min(c["workers"], c["tasks"])
    seconds = RUNNER_SECONDS
    for fault in prm.faults:
        lost = fault in KILLS_WORKER and pool_mb(b, 1) > 0  # a worker process
        cell = min(start + tasks + lost * (hang + restart), prm.timeout_seconds)
        if supervision == "program-lost" and fault in KILLS_WORKER:
            cell = CRASH_SECONDS
        seconds += cell * expected_trials(supervision, fault, prm)
    mb = 2 * PROCESS_MB + pool_mb(b, c["workers"]) + c["memory_mib"] * MIB / 1e6
    return seconds, round(mb)


def _raw_cell(cell: Cell, out: Outcome, orphans: int) -> dict[str, Any]:
    """What one sacrificial run left: its end, and every event relative to its start."""
    return {
        **dataclasses.asdict(cell),
        "status": out.status,
        "exitcode": out.exitcode,
        "error": out.error,
        "trace": out.trace,
        "wall": out.wall,
        "killed": out.killed,
        "orphans": orphans,
        "events": [{"t": e.t - out.started, "kind": e.kind, **e.data} for e in out.events],
    }


def _run_trial(backend: str, fault: str, trial: int, faulty: int, prm: Params) -> dict:
    """One trial of a cell in its own sacrificial subprocess; its raw record."""
    cell = Cell(pool=backend, fault=fault, faulty=faulty, **prm.cell)
    with tempfile.TemporaryDirectory(prefix="coresweep-faults-") as scratch:
        out = run_sacrificial(run_cell, (cell, scratch), timeout=prm.timeout_seconds)
    left = leftovers()
    if left:  # run_sacrificial kills its tree; this is the check that it did
        log.error("%s/%s left %d processes; reaping them", backend, fault, len(left))
        kill_tree(left)
    log.info(
        "%s %s trial %d (task %d faulty): %s in %.2f s (exit code %s, %d killed)",
        backend,
        fault,
        trial,
        faulty,
        out.status,
        out.wall,
        out.exitcode,
        out.killed,
    )
    return {**_raw_cell(cell, out, len(left)), "trial": trial}


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    backend = prm.backend
    for module in _preload(backend):
        importlib.import_module(module)
    cells = []
    method = start_method()  # of the sacrificial subprocesses
    where = prm.placements
    for fault in prm.faults:
        trial, clean = 0, True
        while trial < prm.trials[fault] or (
            fault in KILLS_WORKER
            and clean
            and trial < prm.max_trials
            and not isolation_shown(trial, prm)
        ):
            raw = _run_trial(backend, fault, trial, where[trial % len(where)], prm)
            cells.append(raw)
            trial += 1
            clean = clean and _trial_row(raw)["isolated"]
            # another task lost or hung decides the cell; isolation needs every trial
            if prm.stop_at_first_loss and not clean:
                break
    return {"backend": backend, "sacrificial_start_method": method, "cells": cells}


def _exit_text(code: int | None) -> str:
    if code is None:
        return "process killed at the timeout"
    if code < 0:
        return f"process died ({signal.Signals(-code).name})"
    return f"process died (exit code {code})"


def _task_states(cell: dict[str, Any]) -> dict[int, str]:
    """Per task index, as the caller saw it: completed, failed (an error reached the caller),
    hung (nothing reached it), or lost (its process died, or the run failed, first)."""
    settled = {e["index"]: e for e in cell["events"] if e["kind"] == "task"}
    waited = next((e for e in cell["events"] if e["kind"] == "waited"), None)
    states = {}
    for i in range(cell["tasks"]):
        if i in settled:
            states[i] = "completed" if settled[i]["ok"] else "failed"
        elif cell["status"] == "hung" or (waited and i in waited["pending"]):
            states[i] = "hung"
        else:  # the process died, or the run failed, before this task settled
            states[i] = "lost"
    return states


def _outcome(status: str, others_lost: int, any_hung: bool, recovered: bool) -> str:
    if status in ("crashed", "error"):
        return status
    if status == "hung" or any_hung:
        return "hung"
    if not recovered:
        return "pool-broken"
    return "others-lost" if others_lost else "isolated"


def classify(cell: dict[str, Any]) -> dict[str, Any]:
    """One cell's row: what happened to the other tasks, detection, recovery, outcome."""
    events = cell["events"]
    t_submit = next((e["t"] for e in events if e["kind"] == "submitting"), np.nan)
    t_start = next((e["t"] for e in events if e["kind"] == "started"), np.nan)
    errors = [e for e in events if e["kind"] == "task" and not e["ok"]]
    recovery = next((e for e in events if e["kind"] == "recovery"), None)
    states = _task_states(cell)
    others = [s for i, s in states.items() if i != cell["faulty"]]
    if errors:
        detect, seen = errors[0]["t"] - t_submit, errors[0]["error"]
    elif cell["status"] == "crashed":
        detect, seen = cell["wall"] - t_submit, _exit_text(cell["exitcode"])
    else:
        detect, seen = np.nan, "none" if cell["status"] != "error" else cell["error"]
    t_waited = next((e["t"] for e in events if e["kind"] == "waited"), np.inf)
    late = sum(e["kind"] == "task" and e["t"] > t_waited for e in events)
    recovered = bool(recovery and recovery["ok"])
    lost = len(others) - others.count("completed") - others.count("hung")
    any_hung = "hung" in states.values()
    return {
        "status": cell["status"],
        "outcome": _outcome(cell["status"], lost, any_hung, recovered),
        "others": len(others),
        "others_completed": others.count("completed"),
        "others_lost": lost,
        "others_hung": others.count("hung"),
        "faulty_outcome": states[cell["faulty"]],
        "settled_late": late,
        "error_seen": seen,
        "detect_s": detect,
        "recovered": recovered,
        "recovery_error": "" if recovered or not recovery else recovery["error"],
        "recovery_s": recovery["s"] if recovery else np.nan,
        "startup_s": t_start,
        "run_s": cell["wall"],
        "caller_survived": cell["status"] in ("ok", "error"),
    }


def _trial_row(cell: dict[str, Any]) -> dict[str, Any]:
    """One trial's row: classify() plus its flags and the counts it adds to its cell."""
    row = classify(cell)
    flags = []
    if cell["status"] in ("ok", "error") and cell["killed"]:
        flags.append(Flag.UNCLEAN_SHUTDOWN.at())
    if cell["orphans"]:
        flags.append(Flag.ORPHANS.at())
    if cell["status"] == "error":
        flags.append(Flag.CELL_ERROR.at())
    return {
        **row,
        "flags": flags,
        "others_lost_or_hung": row["others_lost"] + row["others_hung"] > 0,
        "any_hung": row["others_hung"] > 0 or row["faulty_outcome"] == "hung",
        "isolated": row["others_completed"] == row["others"],
    }


def _modal(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial that stands for its cell: the most frequent outcome, the worse on a tie."""
    counts = {o: sum(t["outcome"] == o for t in trials) for o in SEVERITY}
    top = max(counts.values())
    outcome = next(o for o in SEVERITY if counts[o] == top)
    return next(t for t in trials if t["outcome"] == outcome)


def _median(trials: list[dict[str, Any]], key: str) -> float:
    values = [t[key] for t in trials if not np.isnan(t[key])]
    return float(np.median(values)) if values else np.nan


def _cell_row(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """A (backend, fault) cell over its trials: the modal trial's columns, timings as
    medians, the trial counts, and every flag a trial raised."""
    trials = [_trial_row(c) for c in cells]
    modal = _modal(trials)
    raw = cells[trials.index(modal)]
    timing = ("detect_s", "recovery_s", "startup_s", "run_s")
    row = {k: v for k, v in modal.items() if k not in ("flags", "others_lost_or_hung",
                                                       "any_hung", "isolated")}  # fmt: skip
    row |= {k: _median(trials, k) for k in timing}
    return {
        "workers": raw["workers"],
        "tasks": raw["tasks"],
        "faulty_task": raw["faulty"],
        "faulty_tasks": ",".join(str(c["faulty"]) for c in cells),
        "hang_seconds": raw["hang_seconds"],
        "allowed_failures": raw["allowed_failures"],
        **row,
        "trials": len(trials),
        "trials_others_lost": sum(t["others_lost_or_hung"] for t in trials),
        "trials_hung": sum(t["any_hung"] for t in trials),
        "trials_isolated": sum(t["isolated"] for t in trials),
        "trials_caller_died": sum(not t["caller_survived"] for t in trials),
        "exitcode": raw["exitcode"],
        "killed": sum(c["killed"] for c in cells),
        "orphans": sum(c["orphans"] for c in cells),
        "trial_flags": sorted({f for t in trials for f in t["flags"]}),
    }


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (backend, fault) cell, pooled over its trials (see the module docstring)."""
    import pandas as pd

    rows = []
    for rec in records:
        r = rec["result"]
        by_fault: dict[str, list[dict[str, Any]]] = {}
        for cell in r["cells"]:
            by_fault.setdefault(cell["fault"], []).append(cell)
        for fault, cells in by_fault.items():
            row = _cell_row(cells)
            flags = job_flags(r) + row.pop("trial_flags")
            rows.append({"backend": r["backend"], "fault": fault, **row, **row_tail(rec, flags)})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    rank = {name: i for i, name in enumerate((*BACKENDS, *FAULTS))}
    return df.sort_values(["backend", "fault"], key=lambda col: col.map(rank)).reset_index(
        drop=True
    )


EXPERIMENT = from_module(
    __name__,
    ("C6",),
    "one faulty task among many under each pool: who survives, who notices",
)
