"""Results folders for the report tests.

- fixture_results: the checked-in tables of a tiny run of every experiment (tests/data/tiny,
  made by tests/data/regenerate.py), so verdicts and headlines can be pinned.
- measured_results: a tiny real run with its raw files, measured once per test session:
  scaling only (one pure-Python kernel; serial, threads and fork processes at p = 1..2),
  in-process with the real runner, aggregated by the real experiment code, with provenance
  and the run record the workflow writes.
- measure_run: any config measured as the workflow does it, one `coresweep measure` process
  per job (the fixture and the noise test).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from coresweep import config as cs_config
from coresweep.experiments import build_table, get_experiment, plan
from coresweep.measure.cores import Node, usable_cores
from coresweep.measure.provenance import collect
from coresweep.measure.runner import run_point
from coresweep.planning import jobs_of, summary_record
from coresweep.records import read_raw, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
#: the checked-in tables of a tiny run of every experiment (tests/data/regenerate.py)
FIXTURE = ROOT / "tests" / "data" / "tiny"


def tiny_config() -> dict[str, Any]:
    """Every experiment off except a very small scaling run."""
    names = cs_config.schema()["properties"]["experiments"]["properties"]
    cfg: dict[str, Any] = {
        "seed": 7,
        "protocol": {
            "warmup": 1,
            "repeats": 6,
            "max_repeats": 6,
            "min_sample_seconds": 0.01,
            "point_budget_seconds": 1,
            "capacity_wait_seconds": 2,
        },  # fmt: skip
        "experiments": {n: {"enabled": False} for n in names},
    }
    cfg["experiments"]["scaling"] = {
        "kernels": ["mc-python"],
        "backends": ["serial", "threads", "processes-fork"],
        "strong_tasks": 2,
        "weak_tasks_per_worker": 1,
        "sizes": {"mc-python": 2000},
    }
    return cs_config.validate(cfg)


def aggregate_all(results: Path) -> None:
    """results/raw/<experiment>/*.json -> results/tables/<experiment>.parquet, like the workflow."""
    for folder in sorted((results / "raw").iterdir()):
        records = [read_raw(p) for p in sorted(folder.glob("*.json"))]
        table = build_table(folder.name, records)
        (results / "tables").mkdir(exist_ok=True)
        table.to_parquet(results / "tables" / f"{folder.name}.parquet", index=False)


def write_run_record(results: Path, config: dict[str, Any], points: list, node: Node) -> None:
    """results/run.json as the workflow writes it: config, cores, the plan and its point ids."""
    planned: dict[str, list[str]] = {}
    for p in points:
        planned.setdefault(p.experiment, []).append(p.id)
    run = {"config": config, "cores": node.cores, "cluster": False,
           "plan": summary_record(points, node),
           "planned": {e: sorted(ids) for e, ids in planned.items()}}  # fmt: skip
    (results / "run.json").write_text(json.dumps(run, sort_keys=True))


@functools.cache
def _measured() -> Path:
    root = Path(tempfile.mkdtemp(prefix="coresweep-report-"))
    atexit.register(shutil.rmtree, root, True)
    results = root / "results"
    config = tiny_config()
    node = Node.here(min(2, usable_cores()))
    points = plan(config, node)
    for point in points:
        write_json_atomic(
            results / "raw" / point.experiment / f"{point.id}.json",
            run_point(point, get_experiment(point.experiment).measure),
        )
    aggregate_all(results)
    write_json_atomic(results / "provenance.json", collect(ROOT))
    write_run_record(results, config, points, node)
    return results


def measure_run(config: dict[str, Any], results: Path, cores: int = 2) -> Path:
    """A results folder as the workflow makes it: each job of the plan measured by its own
    `coresweep measure` process, then aggregated; provenance.json and run.json beside."""
    node = Node.here(cores)
    points = plan(config, node)
    for job in jobs_of(points):
        done = subprocess.run(
            [sys.executable, "-m", "coresweep.cli", "measure", "--spec", job.spec(),
             "--cores", str(job.threads), "--raw-dir", str(results / "raw" / job.experiment),
             "--record", str(results / "jobs" / job.experiment / f"{job.id}.json")],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"job {job.id} exited {done.returncode}: {done.stderr[-2000:]}")
    aggregate_all(results)
    write_json_atomic(results / "provenance.json", collect(ROOT))
    write_run_record(results, config, points, node)
    return results


def fixture_results(dest: Path) -> Path:
    """A copy of the checked-in results folder (tables, provenance, run record) under dest."""
    out = dest / "results"
    shutil.copytree(FIXTURE, out)
    return out


def measured_results(dest: Path) -> Path:
    """A fresh copy of the measured results folder under dest (tests may break it)."""
    out = dest / "results"
    shutil.copytree(_measured(), out)
    return out
