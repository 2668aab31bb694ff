"""Run one job: its points one after another in this process, each into its own raw file.

Per point: load check, capacity probe, drift reference (or the previous point's end
readings of both, when recent and whole), the experiment's measure under the CPU ledger
(what other programs and the hypervisor took while it ran), cleanup.
A point whose machine was short of cores or whose reference drifted is measured again
(up to protocol.retries times) before its doubt is recorded. A point whose raw file
already holds the same work is kept, so an interrupted job resumes where it stopped.

No wait is unbounded: while a point is measured, every wait on a backend's workers is
bounded (`bound_seconds`) and a worker that dies fails the point within seconds
(coresweep.backends.watch). A failed point gets no raw file; the job goes on with the next
one and its record lists the failed points, so a rerun measures exactly those.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from coresweep.backends.watch import BackendFailure, bounded
from coresweep.config_model import ProtocolSection
from coresweep.measure import drift, provenance
from coresweep.measure.capacity import CapacityCheck, CpuLedger, check_capacity, during
from coresweep.measure.cleanup import reaped_on_exit
from coresweep.measure.cores import usable_cores
from coresweep.records import (
    Attempt,
    CorruptRawFile,
    JobFacts,
    Point,
    job_of,
    raw_record,
    read_raw,
    write_json_atomic,
)

log = logging.getLogger("coresweep")
#: what a point's protocol leaves out is the config model's default
DEFAULTS = ProtocolSection()
#: seconds between a low probe after a point and the probe that confirms it
END_REPROBE_PAUSE = 0.5
#: a point starts from the probes its job's previous point ended with when they found the
#: machine whole at most this long ago, the readings of that very moment: the drift
#: reference (~0.1 s) always, the capacity probe (~0.15 s on 2 cores) for the same cores
START_REUSE_SECONDS = 2.0
DRIFT_LIMIT = 0.05
#: one wait for a result (a sample's map, a task) may last this many times the point's
#: predicted seconds plus BOUND_FLOOR_S before the point fails; a dead worker fails it at once
BOUND_FACTOR = 10.0
BOUND_FLOOR_S = 10.0

Measure = Callable[[Point], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Pace:
    """The job's measured seconds against its predicted seconds over the points done so far:
    the time left is the prediction at that pace (the plan's constants come from one machine,
    and a slower one runs every point slower)."""

    predicted_s: float = 0.0
    measured_s: float = 0.0

    def add(self, predicted_s: float, measured_s: float) -> Pace:
        return Pace(self.predicted_s + predicted_s, self.measured_s + measured_s)

    @property
    def ratio(self) -> float:
        """Measured over predicted so far; 1 before any point is done."""
        return self.measured_s / self.predicted_s if self.predicted_s > 0 else 1.0

    def left(self, predicted_left_s: float) -> float:
        return predicted_left_s * self.ratio

    def text(self) -> str:
        return f" at this job's pace, x{self.ratio:.2f} the plan" if self.predicted_s > 0 else ""


@dataclasses.dataclass(frozen=True)
class EndProbes:
    """The probes a point ended with: a start for the next point of the job."""

    cores: int
    probe: tuple[tuple[str, Any], ...]  # the probe's arguments (a pinned point's CPU)
    capacity: CapacityCheck
    reference_s: float
    at: float  # time.monotonic() of the last reading


_LAST_END: list[EndProbes] = []  # this job process's latest, if any


def probe_key(probe: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A capacity probe's arguments, comparable between points."""
    return tuple(sorted(probe.items()))


def reusable_start(
    cores: int, probe: dict[str, Any], now: float
) -> tuple[CapacityCheck | None, float | None]:
    """(capacity, reference) of the previous point's end that can stand as this point's
    start: both from a whole machine, recent; the capacity only for the same probe (an end
    probe never waits, so its waited_s is 0 as a start's that found the machine free)."""
    last = _LAST_END[0] if _LAST_END else None
    if last is None or not last.capacity.ok or now - last.at > START_REUSE_SECONDS:
        return None, None
    same = (last.cores, last.probe) == (cores, probe_key(probe))
    return (last.capacity if same else None), last.reference_s


class PointFailed(RuntimeError):
    """A point whose measurement a backend failure ended (a dead worker, a hung task)."""

    def __init__(self, point: Point, failure: BackendFailure) -> None:
        self.point, self.failure = point, failure
        super().__init__(f"{failure} during point {point.experiment}/{point.id}")


def bound_seconds(point: Point) -> float:
    """The longest wait for one result of this point's backends."""
    return BOUND_FACTOR * point.seconds + BOUND_FLOOR_S


def bounded_measure(point: Point, measure: Measure) -> dict[str, Any]:
    """measure(point) with every backend wait bounded; PointFailed when a backend failed
    under the bound (also when the experiment caught the pool's own error and went on)."""
    with bounded(bound_seconds(point)) as bound:
        try:
            result = measure(point)
        except Exception as exc:
            if not bound.failures:
                raise
            raise PointFailed(point, bound.failures[0]) from exc
    if bound.failures:
        raise PointFailed(point, bound.failures[0])
    return result


def run_point(
    point: Point,
    measure: Measure,
    cores: int | None = None,
    prov: dict[str, Any] | None = None,
    retry_seconds: float = math.inf,
) -> dict[str, Any]:
    """Measure one point and return its raw record; every child process is gone afterwards.

    Before measuring, wait (up to protocol.capacity_wait_seconds) until the machine delivers
    the point's cores (at most `cores`, the job's); the probe is repeated at the end. A
    shortfall or a drifted reference is measured again up to protocol.retries times; the
    last attempt is recorded, with its flags. A retry is made only while its predicted
    seconds fit in `retry_seconds` (what is left of the job's retry budget).
    """
    protocol = point.params.get("protocol", {})
    retries = int(protocol.get("retries", DEFAULTS.retries))
    prov = prov if prov is not None else provenance.collect()
    attempts: list[Attempt] = []
    for attempt in range(retries + 1):
        if attempt:
            _LAST_END.clear()  # a retry follows a disturbed attempt: it probes afresh
        result = _measure_once(point, measure, cores, protocol)
        job = job_of(result)
        attempts.append(Attempt(job.capacity_flag, job.drift_flag, job.drift, job.seconds))
        # another process held cores or slowed the machine, and it may be gone; the last
        # attempt is recorded with its flags, which the verdicts weigh
        doubts = [w for w, f in (("short of cores", job.capacity_flag),
                                 ("reference drifted", job.drift_flag)) if f]  # fmt: skip
        if not doubts or attempt == retries:
            break
        left = retry_seconds - retried_seconds(attempts)
        if point.seconds > left:
            log.warning(
                "%s: %s; not measured again: the job's retry budget is spent (%.1f s left, "
                "the point takes %.1f s)",
                point.id,
                " and ".join(doubts),
                max(left, 0.0),
                point.seconds,
            )
            break
        log.warning(
            "%s: %s; measuring again (retry %d of %d)",
            point.id,
            " and ".join(doubts),
            attempt + 1,
            retries,
        )
    result["job"] = dataclasses.replace(job, attempts=tuple(attempts)).as_dict()
    # read now, after every import the point made: an extension may have turned the GIL on
    return raw_record(point, result, prov, provenance.interpreter_facts())


def _measure_once(
    point: Point, measure: Measure, cores: int | None, protocol: dict[str, Any]
) -> dict[str, Any]:
    load_warning = protocol.get("load_warning", DEFAULTS.load_warning)
    start_state = provenance.dynamic()
    usable = usable_cores()
    load_per_core = start_state["load_average"][0] / usable
    cores = min(point.threads, cores or usable, usable)
    if load_per_core > load_warning:
        log.warning(
            "load average %.2f per usable core at start exceeds %.2f: timings may be noisy",
            load_per_core,
            load_warning,
        )
    # a point pinned to one CPU (protocol.probe_cpu) probes only that one
    probe = {"cpu": protocol["probe_cpu"]} if "probe_cpu" in protocol else {}
    wait = protocol.get("capacity_wait_seconds", DEFAULTS.capacity_wait_seconds)
    cap_reused, ref_reused = reusable_start(cores, probe, time.monotonic())
    _LAST_END.clear()  # used once: a point that fails leaves none for the next
    cap_start = cap_reused or check_capacity(cores, wait, **probe)
    if cap_start.waited_s > 0 or not cap_start.ok:
        ref_reused = None  # the machine was busy since: time the reference afresh
    with reaped_on_exit():
        ref_start = drift.reference_seconds() if ref_reused is None else ref_reused
        ledger_start = CpuLedger.now(**probe)
        t0 = time.time()
        result = bounded_measure(point, measure)
        t1 = time.time()
    # after the reaping, so that the point's children count as its own CPU time
    ledger_end = CpuLedger.now(**probe)
    # after the point's processes are gone: a pool still shutting down (Dask nannies, workers
    # exiting) would slow the reference and read as drift (seen here: up to +64%)
    ref_end = drift.reference_seconds()
    cap_end = check_capacity(cores, **probe)
    cap_during = (
        during(ledger_start, ledger_end, cap_start.cores) if ledger_start and ledger_end else None
    )
    end_first = None
    if not cap_end.ok and cap_during is not None and cap_during.ok:
        # the probe after the point sees the machine after it, the ledger saw it during: a
        # low end probe beside a full ledger is probed once more after a pause. One that
        # recovers was a burst after the point (in 4 default runs, 12 points read 1.0-1.7 of
        # 2 cores here while the ledger read 2.00 during them); one that stays low is a
        # slowdown the ledger cannot see (a busy SMT sibling on the host) and flags the point
        end_first = cap_end
        time.sleep(END_REPROBE_PAUSE)
        cap_end = check_capacity(cores, **probe)
        log.info(
            "the probe after the point read %.2f of %d cores while the ledger read %.2f "
            "during it; probed again: %.2f",
            end_first.capacity,
            end_first.cores,
            cap_during.capacity,
            cap_end.capacity,
        )
    if end_first is None:  # a low end probe was a burst the end reference may have met
        _LAST_END[:] = [EndProbes(cores, probe_key(probe), cap_end, ref_end, time.monotonic())]
    checks = [("at the start", cap_start), ("at the end", cap_end)]
    checks += [("during the point", cap_during)] if cap_during else []
    for when, cap in checks:
        if not cap.ok:
            log.warning("%s the machine delivered %.2f of %d cores", when, cap.capacity, cap.cores)
    d = drift.drift(ref_start, ref_end)
    if abs(d) > DRIFT_LIMIT:
        log.warning("reference kernel drifted %.1f%% during the point", 100 * d)
    result["job"] = JobFacts(
        started=t0,
        finished=t1,
        seconds=t1 - t0,
        state_start=start_state,
        state_end=provenance.dynamic(),
        load_per_core_start=load_per_core,
        load_warning=load_per_core > load_warning,
        reference_start_s=ref_start,
        reference_end_s=ref_end,
        drift=d,
        drift_flag=abs(d) > DRIFT_LIMIT,
        capacity_start=cap_start.as_dict(),
        capacity_end=cap_end.as_dict(),
        capacity_during=cap_during.as_dict() if cap_during else None,
        capacity_flag=not all(cap.ok for _, cap in checks),
        capacity_end_first=end_first.as_dict() if end_first else None,
        capacity_start_reused=cap_reused is not None,
        reference_start_reused=ref_reused is not None,
    ).as_dict()
    return result


def raw_path(raw_dir: str | Path, point: Point) -> Path:
    return Path(raw_dir) / f"{point.id}.json"


def already_measured(path: Path, point: Point) -> bool:
    """A raw file that holds this very work (same experiment, id and params)."""
    if not path.exists():
        return False
    try:
        return Point.from_dict(read_raw(path)["point"]).same_work(point)
    except (CorruptRawFile, KeyError, TypeError):
        return False


def run_job(
    points: Sequence[Point],
    measure_of: Callable[[str], Measure],
    raw_dir: str | Path,
    cores: int | None = None,
) -> dict[str, Any]:
    """Measure a job's points in order, each written atomically as soon as it is done.

    Returns the job record: per point its predicted and measured seconds, whether it was
    kept from an earlier run, its error if it failed (PointFailed: no raw file), the ids of
    the failed points, and the process start-up before the first point.
    """
    started = time.time()
    startup_s = started - psutil.Process().create_time()
    prov = provenance.collect()
    rows = []
    budget = retry_budget(points)
    pace = Pace()
    for i, point in enumerate(points):
        path = raw_path(raw_dir, point)
        if already_measured(path, point):
            log.info("[%d/%d] %s: kept from an earlier run", i + 1, len(points), point.id)
            rows.append(_row(point, 0.0, kept=True))
            continue
        log.info(
            "[%d/%d] %s/%s (predicted %.0f s; about %.0f s left in this job%s)",
            i + 1,
            len(points),
            point.experiment,
            point.id,
            point.seconds,
            pace.left(sum(p.seconds for p in points[i:])),
            pace.text(),
        )
        t0 = time.time()
        try:
            record = run_point(point, measure_of(point.experiment), cores, prov, budget)
        except PointFailed as exc:  # its pool is torn down: reaped_on_exit left no process
            rows.append(_row(point, time.time() - t0, kept=False, error=str(exc)))
            log.error(
                "[%d/%d] %s failed after %.1f s: %s; no raw file written, a rerun measures it",
                i + 1,
                len(points),
                point.id,
                rows[-1]["seconds"],
                exc,
            )
            continue
        write_json_atomic(path, record)
        budget -= retried_seconds(job_of(record["result"]).attempts)
        rows.append(_row(point, time.time() - t0, kept=False))
        pace = pace.add(point.seconds, rows[-1]["seconds"])
        log.info(
            "[%d/%d] %s done in %.1f s -> %s",
            i + 1,
            len(points),
            point.id,
            rows[-1]["seconds"],
            path,
        )
    return {
        "job": points[0].job_id if points else "",
        "experiment": points[0].experiment if points else "",
        "host": prov["machine"]["hostname"],
        "startup_s": startup_s,
        "seconds": time.time() - started,
        "predicted_s": sum(p.seconds for p in points),
        "points": rows,
        "failed": [r["id"] for r in rows if r["error"]],
    }


def retry_budget(points: Sequence[Point]) -> float:
    """Seconds the job's retries may add: protocol.retry_budget x its predicted seconds. A
    point whose params carry no protocol (load, faults, memory, responsiveness) is retried
    as the config's default protocol says (its `retries`), so its budget is the default's
    too (it used to be unbounded: a default run measured both load points twice, +23 s)."""
    return sum(
        p.seconds * p.params.get("protocol", {}).get("retry_budget", DEFAULTS.retry_budget)
        for p in points
    )


def retried_seconds(attempts: Sequence[Attempt]) -> float:
    """Measuring seconds spent on retries: every attempt after the first."""
    return sum(a.seconds for a in attempts[1:])


def _row(point: Point, seconds: float, kept: bool, error: str = "") -> dict[str, Any]:
    return {
        "id": point.id,
        "predicted_s": point.seconds,
        "seconds": seconds,
        "kept": kept,
        "error": error,
    }
