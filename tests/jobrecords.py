"""The runner's job record of a point, for tests that build raw records by hand."""

from __future__ import annotations

from typing import Any

from coresweep.records import JobFacts


def job_record(**changes: Any) -> dict[str, Any]:
    """A raw result's "job" of a quiet point on 2 cores (full capacity, no drift), with
    `changes` applied to its fields."""
    quiet = {"cores": 2, "capacity": 2.0, "waited_s": 0.0, "ok": True}
    facts = {
        "started": 0.0, "finished": 1.0, "seconds": 1.0, "state_start": {}, "state_end": {},
        "load_per_core_start": 0.0, "load_warning": False, "reference_start_s": 0.1,
        "reference_end_s": 0.1, "drift": 0.0, "drift_flag": False, "capacity_start": quiet,
        "capacity_end": quiet, "capacity_during": None, "capacity_flag": False,
    }  # fmt: skip
    return JobFacts(**(facts | changes)).as_dict()


def measured(exp: Any, point: Any) -> dict[str, Any]:
    """A raw record of `point` measured in this process by experiment module `exp`, with the
    job record the runner writes for a quiet point (the runner's probes are not run)."""
    result = exp.measure(point) | {"job": job_record()}
    return {"result": result, "point": {"id": point.id}, "provenance_hash": "h"}
