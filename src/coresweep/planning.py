"""A plan in numbers: its jobs, and how long they will take on the node it was planned for.

The prediction adds, per job, the process start-up that every job pays (interpreter,
imports, provenance) to the points' own predicted seconds, and per experiment the
aggregation; the constants come from job records of real runs (results/jobs/*/*.json:
`startup_s`, and measured against predicted seconds per point).

A point's own seconds include the sampling until decisive that its deciding ratios may
add (`experiments.estimates.sampling_seconds(decisive=True)`): the assumption is that a
quarter of them (`STRADDLING`) still straddle their bar when the ordinary protocol stops
and use their whole extra allowance, bounded by protocol.decisive_budget_share of the
point's ordinary sampling. Categorical trials are predicted per cell by each experiment
(e.g. the fault cells' expected trials by the backend's supervision).

With other interpreters than the current one (`interpreters:`), each environment not yet
created adds `interpreters.ENV_CREATE_S` (uv: venv and install, measured once).

The constants are seconds on one machine; another runs the same work slower or faster. A
plan for this machine times the drift reference here (`Speed`: the best of SPEED_READINGS
readings) and scales every prediction but an environment's download by its ratio to
NOMINAL_REFERENCE_S, where the constants were last checked. On a 2-core AMD EPYC VM
(2026-12-07) the unscaled plan said 6 min 00 s for runs of 8 min 14 s to 9 min 00 s. Its
speed swung between two levels (the reference read 2.6-4.6 ms within a second), and a
median of readings planned whichever level it met (x2.26: 13 min 35 s); the best is its
undisturbed speed. Parts bounded by the clock (sampling budgets, hang waits, sleeps) do not
slow down with the machine, so the scaled prediction errs high rather than low. A plan for
another node (`--node-cores`, a cluster's compute node) is at the nominal speed: the
machine that will run it is not here to be timed.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from coresweep.experiments.estimates import STRADDLING
from coresweep.interpreters import CURRENT, ENV_CREATE_S, ENV_ROOT, MARKER, label_of
from coresweep.measure.cores import Node
from coresweep.records import Point

#: measured start-up of one `coresweep measure` job before its first point (python,
#: imports, provenance) plus Snakemake's own scheduling of a local job
JOB_START_S = 1.0
#: per experiment: its aggregate job (11 of them took 7 s in default runs G and H of
#: 2026-12-07 on a 2-core Xeon VM: ~0.6 s each, 1.2 s allowed)
AGGREGATE_S = 1.2
#: per run: Snakemake's start before the first job (3-4 s: DAG, config validation, the
#: planner) and provenance, scaling model and report after the last aggregate (6 s), from
#: runs G, H, I. Not counted: where SLURM's client tools are installed but no controller
#: answers, Snakemake's SLURM executor plugin waits ~9 s at every start for `scontrol show
#: config` (cProfile of `snakemake -n` on that VM: 10.9 s with the controller down, 2.8 s up)
FIXED_S = 10.0
#: the drift reference (coresweep.measure.drift.reference_seconds) on the machine the
#: constants above were last checked on: its median over the points of runs W-Z (2-core
#: Intel Xeon VM, 2026-12-07: 1.97-2.09 ms), where the plan was 4-8% high. A median there
#: against the best of readings here: that VM ran at one steady speed (its best readings
#: were not recorded apart), so the two are taken as the same
NOMINAL_REFERENCE_S = 2.0e-3
#: readings of the reference a plan for this machine takes (~0.1-0.2 s each)
SPEED_READINGS = 5
#: a speed factor is kept within these bounds (a reading beyond them is a disturbance)
SPEED_BOUNDS = (0.5, 4.0)


@dataclass(frozen=True)
class Speed:
    """The machine a plan runs on against the one its constants come from.

    `reference_s`: the drift reference timed there; None when it was not (a node that is not
    this machine), which plans at the nominal speed."""

    reference_s: float | None = None

    @property
    def factor(self) -> float:
        """How many seconds a nominal second of work takes there."""
        if self.reference_s is None:
            return 1.0
        lo, hi = SPEED_BOUNDS
        return min(hi, max(lo, self.reference_s / NOMINAL_REFERENCE_S))

    def text(self) -> str:
        """One line for the plan's summary."""
        if self.reference_s is None:
            return "predicted at the nominal speed (the node is not this machine: not timed)"
        return (
            f"predicted at this machine's speed: the reference took "
            f"{self.reference_s * 1e3:.2f} ms here against {NOMINAL_REFERENCE_S * 1e3:.2f} ms "
            f"where the costs were measured, so x{self.factor:.2f}"
        )


NOMINAL = Speed()


def speed_of(node: Node) -> Speed:
    """The speed to plan `node` at: this machine's, timed now; another node's is nominal."""
    if node.kind != "here":
        return NOMINAL
    from coresweep.measure.drift import reference_seconds

    return Speed(min(reference_seconds() for _ in range(SPEED_READINGS)))


@dataclass(frozen=True)
class Job:
    """Points measured one after another in one process (one Snakemake job)."""

    experiment: str
    id: str
    points: tuple[Point, ...]

    @property
    def threads(self) -> int:
        return max(p.threads for p in self.points)

    @property
    def mem_mb(self) -> int:
        return max(p.mem_mb for p in self.points)

    @property
    def seconds(self) -> float:
        return JOB_START_S + sum(p.seconds for p in self.points)

    @property
    def interpreter(self) -> str:
        """The label of the interpreter that runs the job (one per job: ids carry it)."""
        return label_of(self.points[0])

    def spec(self) -> str:
        """The job's points as one JSON list: what `coresweep measure --spec` reads."""
        return "[" + ", ".join(p.to_json() for p in self.points) + "]"


def jobs_of(points: list[Point]) -> list[Job]:
    """Points grouped by (experiment, job id), in plan order."""
    groups: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for p in points:
        groups[(p.experiment, p.job_id)].append(p)
    return [Job(e, j, tuple(ps)) for (e, j), ps in groups.items()]


@dataclass(frozen=True)
class ExperimentLine:
    experiment: str
    jobs: int
    points: int
    seconds: float


def summarize(points: list[Point], speed: Speed = NOMINAL) -> list[ExperimentLine]:
    """Jobs, points and predicted seconds per experiment, in plan order, at `speed`."""
    by_exp: dict[str, list[Job]] = defaultdict(list)
    for job in jobs_of(points):
        by_exp[job.experiment].append(job)
    return [
        ExperimentLine(
            e,
            len(jobs),
            sum(len(j.points) for j in jobs),
            speed.factor * (sum(j.seconds for j in jobs) + AGGREGATE_S),
        )
        for e, jobs in by_exp.items()
    ]


def environments_to_create(points: list[Point]) -> list[str]:
    """Labels of the planned interpreters whose environment does not exist yet."""
    labels = dict.fromkeys(label_of(p) for p in points)
    return [x for x in labels if x != CURRENT and not (ENV_ROOT / x / MARKER).exists()]


def predicted_seconds(points: list[Point], speed: Speed = NOMINAL) -> float:
    """The whole run at `speed`, jobs one after another (measurement jobs never share cores),
    with the environments still to create (downloads: not scaled)."""
    envs = ENV_CREATE_S * len(environments_to_create(points))
    return speed.factor * FIXED_S + envs + sum(line.seconds for line in summarize(points, speed))


@dataclass(frozen=True)
class InterpreterLine:
    interpreter: str
    jobs: int
    points: int
    seconds: float  # its jobs, and its environment while that is still to create
    create_environment: bool


def by_interpreter(points: list[Point], speed: Speed = NOMINAL) -> list[InterpreterLine]:
    """Jobs, points and predicted seconds per interpreter, in plan order, at `speed`."""
    jobs: dict[str, list[Job]] = defaultdict(list)
    for job in jobs_of(points):
        jobs[job.interpreter].append(job)
    todo = set(environments_to_create(points))
    return [
        InterpreterLine(
            label,
            len(js),
            sum(len(j.points) for j in js),
            speed.factor * sum(j.seconds for j in js) + (ENV_CREATE_S if label in todo else 0.0),
            label in todo,
        )
        for label, js in jobs.items()
    ]


def _others(lines: list[InterpreterLine]) -> bool:
    """Whether the plan has an interpreter other than the current one alone."""
    return [x.interpreter for x in lines] != [CURRENT]


def _duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def summary_text(points: list[Point], node: Node, speed: Speed = NOMINAL) -> str:
    """What the user is about to run: a table per experiment and the predicted total."""
    lines = summarize(points, speed)
    where = {
        "here": "this machine",
        "cluster": "a compute node",
        "simulated": "a simulated node (not this machine)",
    }[node.kind]
    out = [
        f"plan for {where}: {node.cores} cores ({node.usable} usable), "
        f"{node.memory_bytes / 2**30:.1f} GiB",
        f"{'experiment':<16} {'jobs':>5} {'points':>7} {'predicted':>14}",
    ]
    for line in lines:
        out.append(
            f"{line.experiment:<16} {line.jobs:>5} {line.points:>7} {_duration(line.seconds):>14}"
        )
    out.append(speed.text())
    out.append(
        f"{'total':<16} {sum(x.jobs for x in lines):>5} {sum(x.points for x in lines):>7} "
        f"{_duration(predicted_seconds(points, speed)):>14}  (prediction; jobs run one at a time)"
    )
    interpreters = by_interpreter(points, speed)
    if _others(interpreters):
        out.append(f"{'interpreter':<16} {'jobs':>5} {'points':>7} {'predicted':>14}")
        for x in interpreters:
            where = sys.executable if x.interpreter == CURRENT else ENV_ROOT / x.interpreter
            made = " (to create)" if x.create_environment else ""
            out.append(
                f"{x.interpreter:<16} {x.jobs:>5} {x.points:>7} {_duration(x.seconds):>14}"
                f"  {where}{made}"
            )
    return "\n".join(out)


def summary_record(points: list[Point], node: Node) -> dict[str, Any]:
    """The same summary as data (run.json, tests), at the nominal speed: the record is a
    rule's params, so a timing in it would make every invocation rerun the report;
    `interpreters` only when the plan has another than the current one (a default run's
    record stays as it was)."""
    interpreters = by_interpreter(points)
    extra = {"interpreters": [x.__dict__ for x in interpreters]} if _others(interpreters) else {}
    return {
        "node": {
            "cores": node.cores,
            "usable": node.usable,
            "memory_bytes": node.memory_bytes,
            "kind": node.kind,
        },
        "experiments": [line.__dict__ for line in summarize(points)],
        "jobs": len(jobs_of(points)),
        "points": len(points),
        "predicted_seconds": predicted_seconds(points),
        # the prediction's assumption about sampling until decisive (see the module docstring)
        "straddling_fraction": STRADDLING,
        **extra,
    }
