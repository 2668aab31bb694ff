"""A 16-core node, simulated: every experiment at 16 workers on this machine's cores.

The run is oversubscribed on purpose (cores.max 16, cores.oversubscribe true, tiny sizes): it
proves the sweep plans, measures, records, aggregates and reports points of a 16-core node end
to end, and that no verdict counts a point measured on fewer cores than it had workers. The
timings it takes mean nothing; nothing here asserts on them.
"""

from __future__ import annotations

import json

import pandas as pd
import psutil
import pytest
import yaml
from wfhelpers import CONFIGS, copy_workflow, snakemake, write_config

from coresweep.experiments import EXPERIMENTS

pytestmark = pytest.mark.slow
P = 16
#: the column that holds a point's worker count, per experiment that has one
WORKERS = {
    "scaling": "p",
    "task_size": "p",
    "load": "p",
    "hybrid": "cores",
    "memory": "workers",
    "responsiveness": "workers",
    "faults": "workers",
    "single_core": "threads",
    "synchronization": "threads",
}
#: experiments whose numbers are rates or speedups of p workers: a point with more workers
#: than usable cores is flagged and never decides. The others oversubscribe by design (threads
#: on one pinned core, idle workers' memory, faults, lost updates, latency under load).
#: the column of the workers (or busy threads) of each timed row
TIMED = {"scaling": "p", "task_size": "workers", "load": "p", "hybrid": "threads_total"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("smoke16"))
    config = write_config(wd, CONFIGS / "smoke16.yaml", keep=tuple(EXPERIMENTS))
    before = {c.pid for c in psutil.Process().children(recursive=True)}  # earlier tests' helpers
    r = snakemake(wd, config, "--cores", "2", timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    left = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
    assert not left, f"the run left processes behind: {left}"
    return wd


def _table(wd, name: str) -> pd.DataFrame:
    return pd.read_parquet(wd / "results" / "tables" / f"{name}.parquet")


def test_every_experiment_has_a_table(smoke):
    cfg = yaml.safe_load((CONFIGS / "smoke16.yaml").read_text())
    for name in cfg["experiments"]:
        assert not _table(smoke, name).empty, name


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_every_experiment_reaches_16_workers(smoke, name):
    column = WORKERS[name]
    assert _table(smoke, name)[column].max() == P, name


@pytest.mark.parametrize("name", TIMED)
def test_timed_points_above_the_usable_cores_are_flagged(smoke, name):
    table, column = _table(smoke, name), TIMED[name]
    run = json.loads((smoke / "results" / "run.json").read_text())
    over = table[table[column] > run["plan"]["node"]["usable"]]
    assert not over.empty
    assert over["flags"].fillna("").str.contains("oversubscribed").all(), name


def test_scaling_verdicts_count_no_oversubscribed_point(smoke):
    claims = pd.read_csv(smoke / "results" / "claims.csv").set_index("claim")
    where = claims.loc["C1", "conditions"]  # decided at p = 2, the largest usable p
    assert "strong scaling at p=2 " in where and "oversubscribed points not counted" in where


def test_the_run_measured_exactly_the_planned_points_and_left_no_process(smoke):
    planned = json.loads((smoke / "results" / "run.json").read_text())["planned"]
    raw = {f"{f.parent.name}/{f.stem}" for f in (smoke / "results" / "raw").rglob("*.json")}
    assert {f"{e}/{p}" for e, ids in planned.items() for p in ids} == raw
    assert (smoke / "results" / "report" / "index.html").exists()
