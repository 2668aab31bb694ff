"""Run one point: provenance, drift reference, load check, the experiment's measure, cleanup."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from coresweep.experiments import get_experiment
from coresweep.measure import drift, provenance
from coresweep.measure.capacity import check_capacity
from coresweep.measure.cleanup import reaped_on_exit
from coresweep.measure.cores import usable_cores
from coresweep.records import Point, raw_record, write_json_atomic

log = logging.getLogger("coresweep")
DRIFT_LIMIT = 0.05


def run_point(point: Point, cores: int | None = None) -> dict[str, Any]:
    """Measure one point and return its raw record; every child process is gone afterwards.

    Before measuring, wait (up to protocol.capacity_wait_seconds) until the machine delivers
    the job's cores (`cores`, default all usable ones); the probe is repeated at the end,
    and a shortfall at either end is recorded.
    """
    exp = get_experiment(point.experiment)
    protocol = point.params.get("protocol", {})
    load_warning = protocol.get("load_warning", 0.5)
    prov = provenance.collect()
    start_state = provenance.dynamic()
    usable = usable_cores()
    load_per_core = start_state["load_average"][0] / usable
    cores = min(cores or usable, usable)
    if load_per_core > load_warning:
        log.warning(
            "load average %.2f per usable core at start exceeds %.2f: timings may be noisy",
            load_per_core,
            load_warning,
        )
    cap_start = check_capacity(cores, protocol.get("capacity_wait_seconds", 30.0))
    with reaped_on_exit():
        ref_start = drift.reference_seconds()
        t0 = time.time()
        result = exp.measure(point)
        t1 = time.time()
        ref_end = drift.reference_seconds()
    cap_end = check_capacity(cores)
    for when, cap in (("start", cap_start), ("end", cap_end)):
        if not cap.ok:
            log.warning(
                "at the %s the machine delivered %.2f of %d cores", when, cap.capacity, cores
            )
    d = drift.drift(ref_start, ref_end)
    if abs(d) > DRIFT_LIMIT:
        log.warning("reference kernel drifted %.1f%% during the job", 100 * d)
    result["job"] = {
        "started": t0,
        "finished": t1,
        "seconds": t1 - t0,
        "state_start": start_state,
        "state_end": provenance.dynamic(),
        "load_per_core_start": load_per_core,
        "load_warning": load_per_core > load_warning,
        "reference_start_s": ref_start,
        "reference_end_s": ref_end,
        "drift": d,
        "drift_flag": abs(d) > DRIFT_LIMIT,
        "capacity_start": cap_start.as_dict(),
        "capacity_end": cap_end.as_dict(),
        "capacity_flag": not (cap_start.ok and cap_end.ok),
    }
    return raw_record(point, result, prov)


def measure_to_file(point: Point, out: str | Path, cores: int | None = None) -> Path:
    """Measure and write atomically: an interrupted job leaves no partial file."""
    return write_json_atomic(out, run_point(point, cores))
