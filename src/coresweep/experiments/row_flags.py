"""Flags experiments put on table rows: doubts the runner recorded about the machine,
oversubscribed points, free-threaded builds whose GIL came back on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coresweep.flags import Flag
from coresweep.measure.provenance import gil_reenabled
from coresweep.records import job_of, record_interpreter


def job_flags(result: dict[str, Any]) -> list[str]:
    """Doubts the runner recorded about the machine while a point ran (after its retries):
    short of cores (the capacity probes before and after it, or the CPU ledger while
    it ran: `measure.capacity`) and a drifted reference kernel. The load average at
    start is recorded but flags nothing: for a minute after a job ends it still counts that
    job (the sweep's own previous point), and the capacity probe measures what it would
    only suggest — whether the point's cores are free."""
    job = job_of(result)
    flags = []
    if job.capacity_flag:
        flags.append(Flag.LOW_CAPACITY.at())
    if job.drift_flag:
        flags.append(Flag.REFERENCE_DRIFT.at())
    return flags


def oversubscribed(record: Mapping[str, Any], workers: int) -> list[str]:
    """["oversubscribed"] when the point ran more workers than the usable cores of the machine
    that measured it (its provenance; without them, what the plan marked on the point): the
    table keeps the point, verdicts never use it."""
    usable = record.get("provenance", {}).get("machine", {}).get("usable_cores")
    if usable:
        over = workers > usable
    else:
        over = bool(record.get("point", {}).get("params", {}).get("oversubscribed"))
    return [Flag.OVERSUBSCRIBED.at()] if over else []


def interpreter_flags(record: Mapping[str, Any]) -> list[str]:
    """["gil-reenabled"] when a free-threaded build ran the point with its GIL on (read after
    every import of the job): the point does not count as free-threaded."""
    return [Flag.GIL_REENABLED.at()] if gil_reenabled(record_interpreter(record)) else []
