"""Experiment registry: the experiments of claims.EXPERIMENT_MODULES, by name."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from coresweep import TABLE_SCHEMA_VERSION, flags
from coresweep.claims import EXPERIMENT_MODULES, modules_of
from coresweep.config import ConfigError
from coresweep.experiments.base import Experiment
from coresweep.flags import Flag
from coresweep.measure.cores import Node
from coresweep.records import Point, job_of, stable_hash

if TYPE_CHECKING:
    import pandas as pd

#: the experiment names in report order (the one list is claims.EXPERIMENT_MODULES)
NAMES = tuple(EXPERIMENT_MODULES)


class _Registry(Mapping[str, Experiment]):
    """Experiments by name (claims.EXPERIMENT_MODULES), each module imported on first use:
    a measurement job loads only its own experiment (and its dependencies), not every
    experiment's."""

    def __getitem__(self, name: str) -> Experiment:
        return importlib.import_module(modules_of(name).experiment).EXPERIMENT

    def __iter__(self) -> Iterator[str]:
        return iter(EXPERIMENT_MODULES)

    def __len__(self) -> int:
        return len(EXPERIMENT_MODULES)


EXPERIMENTS: Mapping[str, Experiment] = _Registry()


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS))}"
        ) from None


def plan(config: dict[str, Any], node: Node) -> list[Point]:
    """Every point of every enabled experiment; ConfigError before anything is measured.

    `node` is the node that runs the points: this machine, a compute node of a cluster seen
    from its submit host, or a simulated size (`coresweep plan --node-cores`). With several
    `interpreters:`, the points of each follow those of the one before, with its own ids.
    """
    from coresweep.experiments.validation import planning_for
    from coresweep.interpreters import of_config

    points: list[Point] = []
    # every point once per interpreter (`interpreters:`; the current one keeps its ids),
    # planned for that interpreter: a backend it cannot run is left out of its points only
    for it in of_config(config):
        with planning_for(None if it.current else it.version):
            for name, section in config["experiments"].items():
                if section["enabled"]:
                    points += [it.apply(p) for p in get_experiment(name).points(config, node)]
    ids = [(p.experiment, p.id) for p in points]
    if len(ids) != len(set(ids)):
        raise ConfigError("two points share an id; check the experiment's point_id parts")
    return points


#: columns that together name one curve over p, where a table has them
#: a curve is one of these combinations on one interpreter: never mixed across them
CURVE_KEYS = ("kernel", "backend", "mode", "family", "variant", "interpreter")


def job_columns(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per point, what the runner recorded about the job that measured it, so that a reader
    of the tables (the report) needs no raw file: the cores the machine delivered (the lowest
    of the probes at start and end and of the CPU ledger while the point ran) of the cores it
    checked, whether that fell short and how long the job
    waited for free cores, the reference kernel's drift and its flag, the load per core at
    the start and its warning, how many times the point was measured (retries), the job's
    seconds, and the software that measured it: git commit (and whether the tree had
    uncommitted changes) and a hash of the Python and package versions."""
    out: dict[str, dict[str, Any]] = {
        k: {} for k in ("probe_capacity", "probe_cores", "capacity_flag", "capacity_waited_s",
                        "drift", "drift_flag", "load_per_core_start", "load_warning",
                        "attempts", "job_seconds", "commit", "commit_dirty", "versions_hash")
    }  # fmt: skip
    for r in records:
        pid, job = r["point"]["id"], job_of(r["result"])
        prov = r.get("provenance", {})
        git = prov.get("git", {})
        checks = job.capacity_checks
        out["probe_capacity"][pid] = min(c["capacity"] for c in checks)
        out["probe_cores"][pid] = max(c["cores"] for c in checks)
        out["capacity_flag"][pid] = job.capacity_flag
        out["capacity_waited_s"][pid] = float(job.capacity_start["waited_s"])
        out["drift"][pid] = job.drift
        out["drift_flag"][pid] = job.drift_flag
        out["load_per_core_start"][pid] = job.load_per_core_start
        out["load_warning"][pid] = job.load_warning
        out["attempts"][pid] = len(job.attempts) or 1
        out["job_seconds"][pid] = job.seconds
        out["commit"][pid] = str(git.get("commit", "?"))
        out["commit_dirty"][pid] = bool(git.get("dirty", False))
        out["versions_hash"][pid] = stable_hash(
            [prov.get("packages"), prov.get("python", {}).get("version")]
        )
    return out


def with_descriptors(table: pd.DataFrame) -> pd.DataFrame:
    """The registry's descriptor of each row's backend as columns (backend_isolation, ...);
    rows whose backend is not a registered one keep empty values."""
    from coresweep.backends import BACKENDS

    cols = {
        name: cls.descriptor.columns()
        for name, cls in BACKENDS.items()
        if name in set(table["backend"])
    }
    for key in next(iter(BACKENDS.values())).descriptor.columns():
        table[key] = [cols[b][key] if b in cols else None for b in table["backend"]]
    return table


def build_table(name: str, records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """An experiment's table from its raw records, with the columns every table carries:
    the host that measured each point and the facts of the job that measured it (probe
    capacity, drift, load, retries, seconds, commit, versions: job_columns), the interpreter
    that measured it (interpreter, free_threaded, gil_enabled: interpreter_columns), each
    backend's descriptor, and a `mixed-hosts` flag on every curve over p whose
    points came from more than one host (a curve must come from one node). Every row
    carries the table format's version (schema_version), which readers check."""
    table = get_experiment(name).aggregate(records)
    if table.empty or "point" not in table.columns:
        return table
    hosts = {r["point"]["id"]: r["provenance"]["machine"]["hostname"] for r in records}
    table["host"] = table["point"].map(hosts)
    table["schema_version"] = TABLE_SCHEMA_VERSION
    from coresweep.experiments.rows import interpreter_columns

    for column, values in {**job_columns(records), **interpreter_columns(records)}.items():
        table[column] = table["point"].map(values)
    if "backend" in table.columns:
        table = with_descriptors(table)
    keys = [k for k in CURVE_KEYS if k in table.columns]
    if "p" in table.columns and "flags" in table.columns and keys:
        mixed = table.groupby(keys, dropna=False)["host"].transform("nunique") > 1
        table.loc[mixed, "flags"] = [
            flags.join([f, Flag.MIXED_HOSTS.at()]) for f in table.loc[mixed, "flags"]
        ]
    return table


__all__ = ["EXPERIMENTS", "Experiment", "build_table", "get_experiment", "plan"]
