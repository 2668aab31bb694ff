"""What experiments put in points, raw records and table rows: point ids, the params that
rebuild a user kernel, a sampled arm's fields, the columns every row ends with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from coresweep.experiments.row_flags import interpreter_flags
from coresweep.kernels import Kernel
from coresweep.measure.provenance import interpreter_label
from coresweep.records import record_interpreter

if TYPE_CHECKING:
    from coresweep.measure.sampling import ArmSamples


def point_id(*parts: Any) -> str:
    """A file-name-safe point id from its parts."""
    return "__".join(str(p).replace("/", "-").replace(" ", "") for p in parts)


def kernel_params(kernel: Kernel) -> dict[str, Any]:
    """Point params that let measure() rebuild a user kernel in a fresh process ({} otherwise)."""
    spec = getattr(kernel, "spec", None)
    return {} if spec is None else {"user_kernels": {kernel.name: spec.to_dict()}}


def arm_fields(s: ArmSamples, warmup: bool = False) -> dict[str, Any]:
    """One sampled arm as a raw record's fields: per-call wall and CPU seconds, calls per
    sample (inner), the first (cold) call, why sampling stopped; warm-up walls if asked."""
    out: dict[str, Any] = {"wall": s.wall, "cpu": s.cpu, "inner": s.inner, "first_run": s.first_run}
    if warmup:
        out["warmup_wall"] = s.warmup_wall
    out["stopped_on"] = s.stopped_on
    return out


def source_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """The columns that name the raw record a table row came from: its point and provenance."""
    return {"point": record["point"]["id"], "provenance_hash": record["provenance_hash"]}


def row_tail(record: Mapping[str, Any], *flags: Sequence[str]) -> dict[str, Any]:
    """The columns every table row ends with: its flags (the groups given, in order, then
    interpreter_flags, joined by ';') and its source (source_columns)."""
    groups = (*flags, interpreter_flags(record))
    return {"flags": ";".join(f for group in groups for f in group), **source_columns(record)}


def interpreter_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per point, the interpreter that measured it: `interpreter` (interpreter_label: a
    free-threaded build whose GIL was on is "...t+gil"), `free_threaded` (the build) and
    `gil_enabled` (after every import of the job); None where an older record did not say."""
    out: dict[str, dict[str, Any]] = {"interpreter": {}, "free_threaded": {}, "gil_enabled": {}}
    for r in records:
        pid, facts = r["point"]["id"], record_interpreter(r)
        out["interpreter"][pid] = interpreter_label(facts)
        out["free_threaded"][pid] = facts["free_threaded"]
        out["gil_enabled"][pid] = facts["gil_enabled"]
    return out
