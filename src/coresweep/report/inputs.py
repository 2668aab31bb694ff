"""What a report reads from a results folder, and what it found missing, partial or broken.

A results folder may be incomplete (an interrupted run, a disabled experiment, a table
written by hand): the report is still built, and says per experiment what it had.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pyarrow import ArrowException

from coresweep import TABLE_SCHEMA_VERSION
from coresweep.claims import CLAIMS, EXPERIMENT_MODULES
from coresweep.records import machine_label

log = logging.getLogger("coresweep")

#: table states; only "ok" and "partial" tables are used
STATES = ("ok", "partial", "missing", "disabled", "empty", "unreadable", "not implemented")


class CorruptTable(ValueError):
    """A results table that cannot be read: the message names the file."""


@dataclass(frozen=True)
class TableStatus:
    """What the report found for one experiment, in words a reader understands."""

    experiment: str
    state: str
    detail: str
    path: str = ""
    rows: int = 0

    @property
    def usable(self) -> bool:
        return self.state in ("ok", "partial")


@dataclass
class ReportInputs:
    """Everything the report is built from."""

    results: Path
    machine: str
    provenance: dict[str, Any]
    run: dict[str, Any]  # results/run.json: the validated config and the granted cores
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    status: dict[str, TableStatus] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any] | None:
        return self.run.get("config")

    def status_frame(self) -> pd.DataFrame:
        """What was found per experiment, as a table."""
        rows = [(s.experiment, s.state, s.detail) for s in self.status.values()]
        return pd.DataFrame(rows, columns=["experiment", "state", "detail"])

    @property
    def problems(self) -> list[str]:
        """Errors the user must hear about (the report is written all the same)."""
        return [s.detail for s in self.status.values() if s.state == "unreadable"]


#: the report's own table beside the experiments' (every sub-case), .csv and .parquet
CASES_TABLE = Path("tables") / "verdict_cases"


def read_table(path: Path) -> pd.DataFrame:
    """Read one parquet table; CorruptTable naming the file when it cannot be read or holds
    rows of another table format (schema_version) than this coresweep reads."""
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError, ArrowException) as exc:
        raise CorruptTable(f"corrupt table {path}: {exc}") from exc
    versions = set(table["schema_version"]) if "schema_version" in table else {None}
    if not table.empty and versions != {TABLE_SCHEMA_VERSION}:
        found = sorted(versions, key=str)
        raise CorruptTable(
            f"table {path} has schema_version {found[0] if len(found) == 1 else found}; this "
            f"coresweep reads version {TABLE_SCHEMA_VERSION}: rebuild it from its raw files "
            "(`coresweep aggregate`), or read it with the coresweep that wrote it"
        )
    return table


def read_json(path: Path) -> dict[str, Any]:
    """A small JSON side file (provenance, run); {} when absent or unreadable."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.error("cannot read %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def implemented_experiments(results: Path, run: dict[str, Any]) -> list[str]:
    """The experiments this report can judge (claims.EXPERIMENT_MODULES: each has a verdict
    rule), then those the run knew, read from the results folder: the config's sections and
    the planned points in run.json, then any table present. The report never imports the
    experiments layer."""
    config = run.get("config") or {}
    known = [*EXPERIMENT_MODULES, *(config.get("experiments") or {}), *(run.get("planned") or {})]
    tables = (results / "tables").glob("*.parquet")
    known += sorted(p.stem for p in tables if p.stem != CASES_TABLE.name)  # the report's own
    return list(dict.fromkeys(known))


def experiment_names(implemented: Sequence[str]) -> list[str]:
    """The implemented experiments, then those the claims name but no module implements yet."""
    return list(dict.fromkeys([*implemented, *(c.experiment for c in CLAIMS.values())]))


def planned_points(run: dict[str, Any]) -> dict[str, set[str]] | None:
    """Point ids per experiment that the run planned (run.json records them, so the
    report never re-plans); None when unknown."""
    planned = run.get("planned")
    if not isinstance(planned, dict):
        return None
    return {e: set(ids) for e, ids in planned.items()}


def _enabled(name: str, run: dict[str, Any]) -> bool | None:
    section = (run.get("config") or {}).get("experiments", {}).get(name)
    return None if section is None else bool(section["enabled"])


def table_status(
    name: str,
    results: Path,
    run: dict[str, Any],
    planned: set[str] | None = None,
    implemented: Sequence[str] | None = None,
) -> tuple[TableStatus, Any]:
    """The state of one experiment's table, and the table when it is usable.

    implemented: the experiments this coresweep version has (default: those the results
    folder knows, `implemented_experiments`)."""
    path = results / "tables" / f"{name}.parquet"
    where = str(path)
    if implemented is None:
        implemented = implemented_experiments(results, run)
    if name not in implemented:
        return TableStatus(
            name, "not implemented", f"no experiment named '{name}' in this coresweep version"
        ), None
    if not path.exists():
        if _enabled(name, run) is False:
            why = f"experiment '{name}' is disabled in the config (experiments.{name}.enabled)"
            return TableStatus(name, "disabled", why, where), None
        return TableStatus(
            name, "missing", f"no table {where}: experiment '{name}' did not run"
        ), None
    try:
        table = read_table(path)
    except CorruptTable as exc:
        log.error("%s", exc)
        return TableStatus(name, "unreadable", str(exc), where), None
    if table.empty:
        return TableStatus(name, "empty", f"table {where} has no rows", where), None
    have = set(table["point"]) if "point" in table else None
    if planned and have is not None and not planned <= have:
        lost = sorted(planned - have)
        detail = (
            f"table {where} lacks {len(lost)} of {len(planned)} planned points "
            f"(e.g. {', '.join(lost[:3])})"
        )
        return TableStatus(name, "partial", detail, where, len(table)), table
    return TableStatus(name, "ok", f"{len(table)} rows in {where}", where, len(table)), table


def load_inputs(results: Path, experiments: Sequence[str] | None = None) -> ReportInputs:
    """Read provenance, the run record and every experiment's table that exists.

    experiments: the names of the experiments this coresweep version implements, handed in
    by the caller (the CLI knows the registry); by default, those the results folder knows.
    """
    prov = read_json(results / "provenance.json")
    run = read_json(results / "run.json")
    inputs = ReportInputs(results, machine_label(prov) if prov else "unknown machine", prov, run)
    planned = planned_points(run) or {}
    implemented = (
        list(experiments) if experiments is not None else implemented_experiments(results, run)
    )
    for name in experiment_names(implemented):
        status, table = table_status(name, results, run, planned.get(name), implemented)
        inputs.status[name] = status
        if table is not None:
            inputs.tables[name] = table
    return inputs
