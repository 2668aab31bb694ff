"""Records that travel between stages, and the one writer for result files."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from coresweep import RESULT_SCHEMA_VERSION

T = TypeVar("T")

#: metadata of a params field that a point carries only when it is set: params_of leaves it out
#: while None, and Point.typed reads its absence as None (e.g. `user_kernels`, present only
#: for a user-defined kernel): `x: dict | None = field(default=None, metadata=OPTIONAL)`
OPTIONAL = {"optional": True}
#: params the plan adds to every experiment's points, read by the plan's own modules (the
#: interpreter a point runs under: interpreters.apply and label_of), not by `typed`'s record
PLAN_KEYS = ("interpreter",)


@dataclass(frozen=True)
class Point:
    """One measurement point: an experiment, its parameters and everything needed to rerun it.

    Points that share a `job` are measured one after another in one process (one Snakemake
    job), each into its own raw file. `seconds` and `mem_mb` are the planner's predictions
    of the point's measuring time and of the peak memory its processes hold at once.
    """

    experiment: str
    id: str  # unique within the experiment; safe as a file name
    params: dict[str, Any] = field(default_factory=dict)
    job: str = ""  # "" = a job of its own (named by id)
    seconds: float = 0.0
    mem_mb: int = 0

    @property
    def job_id(self) -> str:
        return self.job or self.id

    @property
    def threads(self) -> int:
        """Cores the point uses: params "threads", else its p."""
        return int(self.params.get("threads", self.params.get("p", 1)))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def same_work(self, other: Point) -> bool:
        """Whether two points measure the same thing (predictions aside)."""
        return (self.experiment, self.id, self.params) == (other.experiment, other.id, other.params)

    def typed(self, cls: type[T]) -> T:
        """The point's params as its experiment's typed record `cls` (a dataclass whose
        fields are exactly the keys its `points` wrote, by `params_of`); ValueError naming the
        point and the keys when they differ (a raw file of another coresweep)."""
        own = fields(cls)  # type: ignore[arg-type]
        names = {f.name for f in own}
        needed = {f.name for f in own if not f.metadata.get("optional")}
        given = {k: v for k, v in self.params.items() if k not in PLAN_KEYS or k in names}
        missing, extra = sorted(needed - set(given)), sorted(set(given) - names)
        if missing or extra:
            raise ValueError(
                f"point {self.experiment}/{self.id}: params do not match {cls.__name__}"
                f" (missing {missing}, unknown {extra})"
            )
        return cls(**given)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Point:
        return cls(
            experiment=d["experiment"],
            id=d["id"],
            params=d.get("params", {}),
            job=d.get("job", ""),
            seconds=float(d.get("seconds", 0.0)),
            mem_mb=int(d.get("mem_mb", 0)),
        )

    @classmethod
    def from_json(cls, text: str) -> Point:
        return cls.from_dict(json.loads(text))


def params_of(record: Any) -> dict[str, Any]:
    """A typed params record (a dataclass) as the JSON-able dict a Point carries;
    `Point.typed` reads it back."""
    if not is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"params_of takes a dataclass instance, got {type(record).__name__}")
    return {
        f.name: getattr(record, f.name)
        for f in fields(record)
        if not (f.metadata.get("optional") and getattr(record, f.name) is None)
    }


def stable_hash(obj: Any) -> str:
    """Short content hash of a JSON-serialisable object."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def machine_label(prov: dict[str, Any]) -> str:
    """Short human label of a provenance record: host, CPU model and usable cores."""
    m = prov.get("machine", {})
    return (
        f"{m.get('hostname', '?')} ({m.get('cpu_model', '?')}, {m.get('usable_cores', '?')} cores)"
    )


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write JSON to a temporary file beside path, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=1, sort_keys=True, default=_jsonable)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def raw_record(
    point: Point,
    result: dict[str, Any],
    provenance: dict[str, Any],
    interpreter: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of one raw file: versioned, with the point and its provenance.

    interpreter: the interpreter's facts read when the point's result is written, after
    every import of the job (`coresweep.measure.provenance.interpreter_facts`); a record
    without them (written before they were recorded) reads as `record_interpreter` says.
    """
    record = {
        "schema_version": RESULT_SCHEMA_VERSION,
        "point": asdict(point),
        "provenance_hash": stable_hash(provenance),
        "provenance": provenance,
        "result": result,
    }
    if interpreter is not None:
        record["interpreter"] = interpreter
    return record


def record_interpreter(record: Mapping[str, Any]) -> dict[str, Any]:
    """The interpreter facts of a raw record; for an older record without them, its Python
    version and implementation from the provenance, the build and GIL state unknown (None)."""
    if "interpreter" in record:
        return dict(record["interpreter"])
    python = record.get("provenance", {}).get("python", {})
    return {
        "version": str(python.get("version", "?")).split(" ")[0],
        "implementation": python.get("implementation", "?"),
        "executable": python.get("executable"),
        "free_threaded": None,
        "gil_enabled": None,
        "python_gil": None,
    }


@dataclass(frozen=True)
class Attempt:
    """One measurement of a point the runner made (a point is measured again when the machine
    fell short of cores or the reference drifted)."""

    capacity_flag: bool
    drift_flag: bool
    drift: float
    seconds: float


@dataclass(frozen=True)
class JobFacts:
    """What the runner recorded about the machine while one point ran: a raw result's "job".

    Written by `measure.runner` (`as_dict`), read back by the experiments' aggregation
    through `job_of`, which refuses a record that lacks a field without a default."""

    started: float
    finished: float
    seconds: float
    state_start: dict[str, Any]
    state_end: dict[str, Any]
    load_per_core_start: float
    load_warning: bool  # the load average per core at the start exceeded protocol.load_warning
    reference_start_s: float
    reference_end_s: float
    drift: float  # the reference kernel's change over the point (0.1 = 10% slower)
    drift_flag: bool
    capacity_start: dict[str, Any]  # measure.capacity.CapacityCheck.as_dict()
    capacity_end: dict[str, Any]
    capacity_during: dict[str, Any] | None  # the CPU ledger's DuringCheck; None: no ledger
    capacity_flag: bool  # a reading above fell short of the point's cores
    attempts: tuple[Attempt, ...] = ()  # every measurement made, the recorded one last
    #: a low probe after the point beside a full ledger, which capacity_end then re-took
    capacity_end_first: dict[str, Any] | None = None
    #: the start's capacity probe / drift reference were the previous point's end readings
    #: (runner.START_REUSE_SECONDS)
    capacity_start_reused: bool = False
    reference_start_reused: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"attempts": [asdict(a) for a in self.attempts]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobFacts:
        names = [f.name for f in fields(cls)]
        missing = [f.name for f in fields(cls) if f.name not in d and f.default is MISSING]
        if missing:
            raise CorruptRawFile(f"a raw result's job record lacks {missing}")
        values = {n: d[n] for n in names if n in d}
        values["attempts"] = tuple(Attempt(**a) for a in d.get("attempts", ()))
        return cls(**values)

    @property
    def capacity_checks(self) -> list[dict[str, Any]]:
        """The capacity readings the runner took (start, end and, with a ledger, during)."""
        return [c for c in (self.capacity_start, self.capacity_end, self.capacity_during) if c]


def job_of(result: Mapping[str, Any]) -> JobFacts:
    """The runner's facts of a raw result (CorruptRawFile naming what is missing)."""
    if "job" not in result:
        raise CorruptRawFile("a raw result has no job record (it was not written by the runner)")
    return JobFacts.from_dict(result["job"])


class CorruptRawFile(ValueError):
    """A raw result file that cannot be read."""


class RecordVersionError(CorruptRawFile):
    """A raw result file written with another record version than this coresweep reads."""


def read_raw(path: str | Path) -> dict[str, Any]:
    """Read one raw file; a clear error naming the file when it is corrupt."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CorruptRawFile(f"corrupt raw result file {path}: {exc}") from exc
    if not isinstance(data, dict) or "result" not in data or "point" not in data:
        raise CorruptRawFile(f"corrupt raw result file {path}: missing 'point' or 'result'")
    version = data.get("schema_version")
    if version != RESULT_SCHEMA_VERSION:
        # pyperf's rule: records of another format are refused, never silently combined
        raise RecordVersionError(
            f"raw result file {path} has schema_version {version!r}; this coresweep reads "
            f"version {RESULT_SCHEMA_VERSION}: measure it again, or read it with the coresweep "
            "that wrote it"
        )
    return data
