"""C9 hybrids: the grid, a tiny real measurement with probed inner pools, verdict rules, heatmap."""

from __future__ import annotations

import dataclasses
import os

import pandas as pd
import pytest
from jobrecords import measured

from coresweep import config as cfg
from coresweep.analysis.verdicts.hybrid import hybrid_verdicts
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.backends import BACKENDS
from coresweep.experiments import hybrid as exp
from coresweep.measure.cores import Node
from coresweep.records import params_of
from coresweep.report.plots.registry import plots as plots_of

QUICK = {"repeats": 6, "max_repeats": 6, "min_sample_seconds": 0.001, "point_budget_seconds": 0.1}
TINY = {"tasks_per_core": 2, "sizes": {"dgemm": 64, "mc-numba": 20000}, "protocol": QUICK}


def _config(**kw):
    return cfg.validate({"experiments": {"hybrid": {**TINY, **kw}}})


def _measured(family: str, variants: list[str], split: list[int], **kw) -> pd.DataFrame:
    (point,) = exp.points(_config(families=[family], variants=variants, **kw), Node.here(2))
    # one split keeps the test short; the planner's grid is tested apart
    prm = dataclasses.replace(point.typed(exp.Params), splits=[split])
    point = dataclasses.replace(point, params=params_of(prm))
    rec = measured(exp, point)
    return exp.aggregate([rec])


@pytest.fixture(scope="module")
def numba_table():
    return _measured("processes-numba", ["limited", "unlimited"], [2, 1])


def test_splits_cover_every_factorisation_of_the_cores():
    assert exp.splits(2) == [(1, 2), (2, 1)]
    assert exp.splits(4) == [(1, 4), (2, 2), (4, 1)]
    assert exp.splits(1) == [(1, 1)]


def test_chunked_keeps_order_and_balances():
    chunks = exp.chunked(list(range(7)), 3)
    assert chunks == [[0, 1, 2], [3, 4], [5, 6]]
    assert exp.chunked([1], 4) == [[1]]


def test_one_point_per_family_books_all_cores():
    pts = exp.points(_config(), Node.here(2))
    assert [p.id for p in pts] == ["dask-dgemm__c2", "processes-numba__c2"]
    prms = [p.typed(exp.Params) for p in pts]
    assert all(p.threads == 2 and p.splits == [(1, 2), (2, 1)] for p in prms)
    assert prms[0].ntasks == 4
    glob = cfg.validate({"protocol": {"repeats": 8, "max_repeats": 8},
                         "experiments": {"hybrid": TINY}})  # fmt: skip
    (over,) = exp.points(glob, Node.here(2))[:1]
    assert over.params["protocol"]["max_repeats"] == 6  # the experiment's override wins
    assert prms[0].serial_tasks == 4  # all of them: fewer than serial_tasks
    assert {p.job for p in pts} == {"hybrid"} and all(p.seconds > 0 for p in pts)


def test_big_node_has_every_divisor_split_and_a_bounded_serial_reference():
    (pt,) = exp.points(_config(families=["processes-numba"]), Node.sized(12, 48))
    prm = pt.typed(exp.Params)
    assert prm.splits == [(1, 12), (2, 6), (3, 4), (4, 3), (6, 2), (12, 1)]
    assert prm.ntasks == 24 and prm.serial_tasks == 16
    assert pt.mem_mb >= 12 * 60  # a process per core at the widest split


def test_families_pick_their_pools_by_descriptor():
    numba, dask = exp.FAMILIES["processes-numba"], exp.FAMILIES["dask-dgemm"]
    # a multiprocessing.Pool of the config's start method, not concurrent.futures' (also spawn)
    assert exp.pool_of(numba, "spawn") == "processes-spawn"
    assert exp.pool_of(numba, "forkserver") == "processes-forkserver"
    # Dask's nannies start its workers, whatever the config's start method
    assert exp.pool_of(dask, "forkserver") == "dask-processes"
    assert BACKENDS[exp.pool_of(dask, "spawn")].descriptor.dispatch == "scheduler"


def test_a_point_of_other_params_is_refused_naming_it():
    (pt,) = exp.points(_config(families=["processes-numba"]), Node.here(2))
    old = dataclasses.replace(pt, params={k: v for k, v in pt.params.items() if k != "splits"})
    with pytest.raises(ValueError, match=r"hybrid/processes-numba__c2.*missing \['splits'\]"):
        exp.measure(old)


def test_unlimited_inner_pools_oversubscribe_and_are_seen(numba_table, no_leftover_children):
    t = numba_table.set_index("variant")
    assert t.loc["limited", "inner_threads"] == 1
    assert t.loc["unlimited", "inner_threads"] == min(
        os.cpu_count(), __import__("numba").config.NUMBA_NUM_THREADS
    )
    assert t.loc["unlimited", "threads_total"] == 2 * t.loc["unlimited", "inner_threads"]
    assert numba_table.check_ok.all()
    assert t.loc["unlimited", "penalty"] > 0 and pd.isna(t.loc["limited", "penalty"])
    assert t.loc["serial", "speedup"] == pytest.approx(1.0)


def test_one_dask_cluster_switches_blas_threads_between_arms(no_leftover_children):
    # serial_tasks=2 of 4: the reference is measured on half the tasks and scaled
    t = _measured("dask-dgemm", ["limited", "unlimited"], [1, 2], serial_tasks=2)
    t = t.set_index("variant")
    assert t.loc["serial", "measured_tasks"] == 2 and t.loc["limited", "measured_tasks"] == 4
    assert t.check_ok.all() and not t["flags"].str.contains("differs-from-serial").any()
    assert t.loc["limited", "inner_threads"] == 1
    assert t.loc["unlimited", "inner_threads"] == os.cpu_count()
    assert t.loc["limited", "start_s"] == t.loc["unlimited", "start_s"]  # one start
    assert t.loc["unlimited", "threads_total"] == 1 * 2 * os.cpu_count()
    assert bool(t.loc["unlimited", "check_ok"])


def test_verdict_and_heatmap_from_the_measured_table(numba_table, tmp_path):
    (v,) = verdicts_of("hybrid", numba_table, "test box")
    assert v.claim == "C9" and v.verdict == "inconclusive"  # no P>1, T>1 split on 2 cores
    assert "no split with P>1 and T>1" in v.evidence and "unlimited numba pools" in v.evidence
    assert "test box" in v.conditions and ">= 4 cores" in v.conditions
    (path,) = plots_of("hybrid", numba_table, tmp_path, "test box")
    assert path.name == "hybrid_heatmap.svg" and "<svg" in path.read_text()


def _grid(times: dict[tuple[int, int], float], half: float = 0.01) -> pd.DataFrame:
    rows = [
        {
            "family": "f",
            "kernel": "k",
            "inner": "numba",
            "cores": 4,
            "variant": "limited",
            "processes": p,
            "threads_per_process": t,
            "time_median": m,
            "time_ci_lo": m - half,
            "time_ci_hi": m + half,
            "speedup": 1 / m,
        }
        for (p, t), m in times.items()
    ]
    return pd.DataFrame(rows)


def test_verdict_rule_needs_the_hybrid_to_win_beyond_its_interval():
    win = _grid({(1, 4): 0.50, (2, 2): 0.30, (4, 1): 0.40})
    assert hybrid_verdicts(win, "m")[0].verdict == "supported"
    lose = _grid({(1, 4): 0.50, (2, 2): 0.45, (4, 1): 0.30})
    assert hybrid_verdicts(lose, "m")[0].verdict == "refuted"
    tie = _grid({(1, 4): 0.50, (2, 2): 0.31, (4, 1): 0.30}, half=0.05)
    assert hybrid_verdicts(tie, "m")[0].verdict == "inconclusive"


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"families": ["mpi-openmp"]}, "experiments.hybrid.families"),
        ({"start_method": "fork"}, "experiments.hybrid.start_method"),
        ({"sizes": {"dgemm": 10**6}}, "experiments.hybrid.sizes.dgemm"),
        ({"cores": 64}, "experiments.hybrid.cores"),
    ],
)
def test_bad_config_names_the_key(bad, needle):
    with pytest.raises(cfg.ConfigError) as e:
        exp.points(_config(**bad), Node.here(2))
    assert needle in str(e.value)
