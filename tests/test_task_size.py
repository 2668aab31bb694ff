"""C8 task size: planning, crossover maths, a tiny real measurement, table, verdict, plots, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from described import columns_of, describe
from jobrecords import measured

from coresweep import config as cfg
from coresweep.analysis.verdicts import all_of, clears, combine
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.analysis.verdicts.task_size import task_size_verdicts
from coresweep.crossover import (
    BELOW,
    INTERPOLATED,
    NEVER,
    break_even,
    crossover,
    overhead_fit,
)
from coresweep.experiments import task_size as exp
from coresweep.measure.cores import Node
from coresweep.report.plots.registry import plots as plots_of

TINY = {
    "kernels": ["mc-python", "mc-numba"],
    "backends": ["threads", "processes-fork"],
    "task_seconds": [0.0001, 0.002],
    "work_seconds": 0.004,
    "max_tasks": 12,
    "protocol": {
        "repeats": 6,
        "max_repeats": 6,
        "min_sample_seconds": 0.001,
        "point_budget_seconds": 0.1,
    },
}


def _config(**kw):
    return cfg.validate({"experiments": {"task_size": {**TINY, **kw}}})


@pytest.fixture(scope="module")
def record():
    """The tiny point measured for real."""
    (point,) = exp.points(_config(), Node.here(2))
    return measured(exp, point)


@pytest.fixture(scope="module")
def table(record):
    """The tiny point aggregated as `coresweep aggregate` would."""
    return describe(exp.aggregate([record]))


def test_the_largest_tasks_speedup_pairs_serial_samples_of_the_pools_own_rounds(record, table):
    """Each pool's rounds also time one serial largest task; that level's speedup is the
    median of per-round ratios (serial task x the level's tasks / the pool's call)."""
    r = record["result"]
    levels = {k["kernel"]: [exp.Level(**x) for x in k["levels"]] for k in r["kernels"]}
    for run in r["backends"]:
        if run["backend"] == exp.REFERENCE:
            assert run["serial_largest"] == {}
            continue
        assert set(run["serial_largest"]) == set(TINY["kernels"])
        for kernel, ladder in levels.items():
            top = exp.largest(ladder)
            pool = np.asarray(run["arms"][kernel][top.label]["wall"])
            serial = np.asarray(run["serial_largest"][kernel]["wall"]) * top.ntasks
            rows = table[(table.backend == run["backend"]) & (table.kernel == kernel)]
            (row,) = rows[rows.arm == top.label].itertuples()
            assert row.speedup_rounds == len(pool) == len(serial) == 6
            assert row.speedup == pytest.approx(float(np.median(serial / pool)))
            assert (rows[rows.arm != top.label].speedup_rounds == 0).all()


def test_one_point_for_all_kernels_with_serial_added_first():
    (pt,) = exp.points(_config(kernels=["mc-python", "mc-numba"]), Node.here(2))
    assert pt.id == "p2" and pt.params["kernels"] == ["mc-python", "mc-numba"]
    assert pt.params["backends"] == ["serial", "threads", "processes-fork"]
    assert pt.params["threads"] == pt.params["p"] == 2
    # the experiment's override wins over the global protocol
    glob = cfg.validate({"protocol": {"repeats": 8, "max_repeats": 8},
                         "experiments": {"task_size": TINY}})  # fmt: skip
    assert exp.points(glob, Node.here(2))[0].params["protocol"]["repeats"] == 6
    assert exp.points(_config(), Node.here(1))[0].params["p"] == 1  # granted cores cap p
    assert pt.typed(exp.Params).user_kernels == {}  # built-in kernels carry no spec


def test_backends_of_equal_rank_keep_the_config_order():
    spawners = ["loky", "processes-spawn", "processes-forkserver"]
    for order in (spawners, spawners[::-1]):
        (pt,) = exp.points(_config(backends=[*order, "threads"]), Node.here(2))
        assert pt.typed(exp.Params).backends == ["serial", "threads", *order]


def test_levels_cap_tasks_and_keep_at_least_p():
    lv = exp.levels([1e-5, 0.1], work_seconds=0.2, max_tasks=100, p=2, rate=1e6)
    assert [(x.label, x.size, x.ntasks) for x in lv] == [
        ("1e-05", 10, 100),
        ("0.1", 100000, 2),
        ("empty", 0, 100),
    ]


def test_levels_bound_the_serial_work_on_a_big_pool():
    lv = exp.levels([1e-5, 0.01, 0.1], 0.2, max_tasks=256, p=128, rate=1e6, max_work_seconds=1)
    assert [x.ntasks for x in lv] == [256, 100, 10, 256]  # 1 s of serial work at most


def test_auto_max_tasks_reaches_every_worker_of_a_big_pool():
    (pt,) = exp.points(_config(max_tasks="auto"), Node.sized(64, 256))
    assert pt.params["p"] == 64 and pt.params["max_tasks"] == 128
    (small,) = exp.points(_config(max_tasks="auto"), Node.here(2))
    assert small.params["max_tasks"] == 50
    assert pt.job == "task_size" and 0 < small.seconds < pt.seconds


def test_crossover_interpolates_on_log_scale():
    c = crossover([1e-5, 1e-4, 1e-3], [0.5, 0.5, 2.0])
    assert c.status == INTERPOLATED
    # log-linear between (1e-4, ln 0.5) and (1e-3, ln 2): ln 1 is half way
    assert c.seconds == pytest.approx(10**-3.5)
    assert crossover([1e-5, 1e-4], [1.2, 3.0]) == crossover([1e-4, 1e-5], [3.0, 1.2])
    assert crossover([1e-5, 1e-4], [1.2, 3.0]).status == BELOW
    assert crossover([1e-5, 1e-4], [0.2, 0.9]).status == NEVER
    # a loss above a win moves the crossover past that loss
    assert 1e-3 < crossover([1e-5, 1e-4, 1e-3, 1e-2], [1.5, 1.5, 0.8, 2]).seconds < 1e-2


def test_overhead_fit_recovers_overhead_and_parallelism():
    n = np.array([100, 100, 20, 2])
    serial = np.array([0.001, 0.01, 0.2, 0.2])
    par = n * 50e-6 + serial / 1.8
    overhead, p_eff = overhead_fit(n, serial, par)
    assert overhead == pytest.approx(50e-6)
    assert p_eff == pytest.approx(1.8)
    assert break_even(0.1, 2.0) == pytest.approx(0.2)
    assert math.isinf(break_even(0.1, 0.9))


def test_measure_gives_a_row_per_backend_and_level_checked_against_serial(
    table, no_leftover_children
):
    assert len(table) == 2 * 3 * 3  # two kernels x serial, threads, fork x two sizes + empty
    assert set(table.backend) == {"serial", "threads", "processes-fork"}
    assert set(table.kernel) == {"mc-python", "mc-numba"}
    assert table.check_ok.all()
    lad = table[table.level == "ladder"]
    assert (lad.task_seconds > 0).all() and lad.speedup.notna().all()
    fork = table[table.backend == "processes-fork"].iloc[0]
    assert fork.start_s > 0 and fork.overhead_task_s > 0
    assert fork.crossover_status in (BELOW, INTERPOLATED, NEVER)
    for col in ("time_median", "time_ci_lo", "time_ci_hi", "time_rel_halfwidth", "flags"):
        assert col in table


def test_plots_and_evidence_from_the_measured_table(table, tmp_path):
    (v,) = verdicts_of("task_size", table, "test box")
    assert v.claim == "C8" and v.plots == ("task_size_speedup.svg",)
    assert "processes-fork" in v.evidence and "cold start" in v.evidence
    assert "p=2" in v.conditions and "test box" in v.conditions
    paths = plots_of("task_size", table, tmp_path, "test box")
    assert [p.name for p in paths] == ["task_size_speedup.svg", "task_size_costs.svg"]
    assert all(p.read_text().lstrip().startswith("<?xml") for p in paths)


def test_measured_verdict_is_what_its_speedup_intervals_imply(table):
    """Without its flags, the tiny run decides each kernel's fork pool exactly from its
    speedup intervals: loses (below 1) on the smallest task and wins (above 1) on the largest."""
    t = table.assign(flags="")
    lad = t[(t.level == "ladder") & (t.backend == "processes-fork")]
    results = {}
    for kernel, g in lad.groupby("kernel", sort=False):
        g = g.sort_values("task_seconds")
        small, large = g.iloc[0], g.iloc[-1]
        beats_small = clears(small.speedup_ci_lo, small.speedup_ci_hi, 1.0)
        loses = None if beats_small is None else not beats_small
        wins = clears(large.speedup_ci_lo, large.speedup_ci_hi, 1.0)
        results[f"{kernel}/processes-fork"] = all_of([loses, wins])
    (v,) = task_size_verdicts(t, "test box")
    assert v.verdict == combine(results)
    held = {k: [g for g, x in results.items() if x is v] or "none" for k, v in
            (("holds", True), ("not", False))}  # fmt: skip
    assert f"holds for {held['holds']}, not for {held['not']}" in v.conditions
    if v.verdict == "inconclusive":
        assert v.headline.startswith("Not decided for mc-")


#: (speedup, ci_lo, ci_hi) at the smallest and the largest task, as each crossover status
#: implies: a crossover inside the ladder loses (interval below 1) on the smallest tasks and
#: wins (above 1) on the largest; one below the ladder wins at both ends; none loses at both
SPEEDUPS = {
    INTERPOLATED: {1e-5: (0.3, 0.25, 0.35), 1e-3: (1.9, 1.8, 2.0)},
    BELOW: {1e-5: (1.5, 1.3, 1.7), 1e-3: (1.9, 1.8, 2.0)},
    NEVER: {1e-5: (0.3, 0.25, 0.35), 1e-3: (0.8, 0.7, 0.9)},
}


def _synthetic(status_by_backend: dict[str, str]) -> pd.DataFrame:
    rows = []
    for backend, status in status_by_backend.items():
        for ts in (1e-5, 1e-3):
            speedup, lo, hi = SPEEDUPS[status][ts]
            rows.append(
                {
                    "kernel": "mc-python",
                    "kind": "python",
                    "backend": backend,
                    "p": 2,
                    "level": "ladder",
                    "arm": f"{ts:g}",
                    "task_seconds": ts,
                    "crossover_s": 1e-4 if status == INTERPOLATED else math.nan,
                    "crossover_status": status,
                    "overhead_task_s": 1.5e-3 if backend.startswith("dask") else 60e-6,
                    "overhead_task_ci_lo": 1e-6,
                    "overhead_task_ci_hi": 2e-3,
                    "start_s": 0.5,
                    "start_first_s": 0.5,
                    "speedup": speedup,
                    "speedup_ci_lo": lo,
                    "speedup_ci_hi": hi,
                    "speedup_largest": SPEEDUPS[status][1e-3][0],
                    "cold_break_even_s": 1.0,
                    "check_ok": True,
                    **columns_of(backend),
                }
            )
    return pd.DataFrame(rows)


def test_verdict_rule_supported_only_when_every_process_backend_crosses_over():
    both = _synthetic({"processes-fork": INTERPOLATED, "dask-processes": INTERPOLATED})
    (v,) = task_size_verdicts(both, "m")
    assert v.verdict == "supported"
    assert v.headline == (
        "Yes for mc-python/processes-fork, mc-python/dask-processes (loses on small tasks, "
        "wins on large)."
    )
    assert "dask-processes 1.5 ms per task (above the documented 200 µs – 1 ms)" in v.evidence
    (v,) = task_size_verdicts(
        _synthetic({"processes-fork": BELOW, "dask-processes": INTERPOLATED}), "m"
    )
    assert v.verdict == "conditional"
    assert (
        "holds for ['mc-python/dask-processes'], not for ['mc-python/processes-fork']; "
        "wins even on the smallest tasks: mc-python/processes-fork; never wins: none"
    ) in v.conditions
    assert v.headline.startswith(
        "Depends on the kernel and pool: yes for mc-python/dask-processes (loses on small "
        "tasks, wins on large); no for mc-python/processes-fork (wins on small tasks"
    )
    (v,) = task_size_verdicts(_synthetic({"processes-fork": NEVER}), "m")
    assert v.verdict == "refuted"
    assert v.headline == (
        "No for mc-python/processes-fork (wins on small tasks or loses on large)."
    )
    assert "never wins: mc-python/processes-fork" in v.conditions
    one_core = _synthetic({"processes-fork": INTERPOLATED}).assign(p=1)
    (v,) = task_size_verdicts(one_core, "m")
    assert v.verdict == "inconclusive"
    assert v.headline == (
        "Needs ≥ 2 usable cores for a process pool to beat serial; this run had p=1."
    )


def _with_serial(t: pd.DataFrame, flags: str, capacity: float) -> pd.DataFrame:
    """t with the serial baseline's rows, at every task size, flagged as given."""
    base = t[t.backend == t.backend.iloc[0]].assign(
        backend="serial", speedup=1.0, speedup_ci_lo=1.0, speedup_ci_hi=1.0, flags=flags,
        probe_capacity=capacity, probe_cores=2, **columns_of("serial"),
    )  # fmt: skip
    return pd.concat([base, t.assign(flags="")], ignore_index=True)


def test_a_serial_baseline_short_of_cores_widens_the_pools_win_by_its_size():
    # the pool's 1.9x [1.8, 2.0] on the largest tasks is a win; had its serial baseline run
    # on 1.0 of 2 cores (a slowed baseline raises the speedup), it could be 0.9x: undecided
    t = _synthetic({"processes-fork": INTERPOLATED})
    (quiet,) = task_size_verdicts(_with_serial(t, "", 2.0), "m")
    assert quiet.verdict == "supported"
    (short,) = task_size_verdicts(_with_serial(t, "low-capacity", 1.0), "m")
    assert short.verdict == "inconclusive"
    assert "serial baseline, largest tasks: low-capacity, 1.00 of 2 cores delivered" in (
        short.evidence
    )


def test_a_drift_counts_per_round_on_the_largest_tasks_paired_in_the_pools_rounds():
    """The EPYC VM's case (default run Q1): a 41% drift over the one task-size point. A
    largest-task speedup of 1.6 [1.33, 1.90] against the serial pass widens x1.41 to
    [0.94, 2.68]: undecided; paired over 6 rounds it widens x1.068: a win."""
    t = _synthetic({"processes-fork": INTERPOLATED})
    large = t.task_seconds == 1e-3
    t.loc[large, ["speedup", "speedup_ci_lo", "speedup_ci_hi"]] = (1.6, 1.33, 1.9)
    t = t.assign(flags="reference-drift", drift=0.409, point="p2", n=6)
    (apart,) = task_size_verdicts(t.assign(speedup_rounds=0), "m")
    assert apart.verdict == "inconclusive"
    assert "largest tasks: reference-drift, 40.9% (x1.41)" in apart.cases[1]["reason"]
    (paired,) = task_size_verdicts(t.assign(speedup_rounds=[0, 6]), "m")
    assert paired.verdict == "supported"
    win = paired.cases[1]
    assert (round(win["lo_widened"], 4), round(win["hi_widened"], 4)) == (1.2451, 2.0295)


def test_a_speedup_interval_straddling_1_leaves_that_pool_undecided():
    t = _synthetic({"processes-fork": INTERPOLATED, "dask-processes": INTERPOLATED})
    fork_small = (t.backend == "processes-fork") & (t.task_seconds == 1e-5)
    t.loc[fork_small, ["speedup", "speedup_ci_lo", "speedup_ci_hi"]] = (0.9, 0.7, 1.1)
    (v,) = task_size_verdicts(t, "m")
    assert v.verdict == "conditional"
    assert (
        "holds for ['mc-python/dask-processes'], not for none; "
        "undecided for ['mc-python/processes-fork']"
    ) in v.conditions
    assert v.headline == (
        "Depends on the kernel and pool: yes for mc-python/dask-processes (loses on small "
        "tasks, wins on large); not decided for mc-python/processes-fork."
    )


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"kernels": ["dgemm"]}, "experiments.task_size.kernels: ['dgemm'] cannot be cut"),
        ({"backends": ["numba-parallel"]}, "experiments.task_size.backends: ['numba-parallel']"),
        ({"backends": ["mpi"]}, "experiments.task_size.backends: unknown backend 'mpi'"),
        ({"p": 64}, "experiments.task_size.p: p=[64] exceeds"),
    ],
)
def test_bad_config_names_the_key(bad, needle):
    with pytest.raises(cfg.ConfigError) as e:
        exp.points(_config(**bad), Node.here(2))
    assert needle in str(e.value)


def test_schema_rejects_a_ladder_of_one():
    with pytest.raises(cfg.ConfigError, match="experiments.task_size.task_seconds"):
        _config(task_seconds=[0.001])
