"""C3 responsiveness: planning, a tiny real measurement, table, verdict rules, plot, errors."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import psutil
import pytest
from described import columns_of, describe
from jobrecords import measured

from coresweep import config as cfg
from coresweep.analysis.verdicts import combine
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.analysis.verdicts.responsiveness import responsiveness_verdicts
from coresweep.experiments import responsiveness as exp
from coresweep.experiments.responsiveness import IDLE
from coresweep.measure.cores import Node
from coresweep.report.plots.registry import plots as plots_of

TINY = {
    "modes": ["threads-python", "processes-python"],
    "workers": 1,
    "switch_intervals_ms": [0.5, 5],
    "probe_period_ms": 2,
    "seconds_per_condition": 0.2,
    "rounds": 2,
    "task_sizes": {"mc-python": 2000, "mc-numba": 100000},
}


def _config(**kw):
    return cfg.validate({"experiments": {"responsiveness": {**TINY, **kw}}})


@pytest.fixture(scope="module")
def records():
    """Both tiny points measured for real, as the runner would store them."""
    before = sys.getswitchinterval()
    children = {c.pid for c in psutil.Process().children(recursive=True)}
    out = []
    for point in exp.points(_config(), Node.here(2)):
        out.append(measured(exp, point))
    assert sys.getswitchinterval() == before  # restored after every window
    left = {c.pid for c in psutil.Process().children(recursive=True)} - children
    assert not left, f"measure left child processes {left}"
    return out


def test_one_point_per_mode_books_the_background_workers():
    pts = exp.points(_config(), Node.here(2))
    prms = [p.typed(exp.Params) for p in pts]
    assert [p.mode for p in prms] == ["threads-python", "processes-python"]
    assert all(p.threads == 1 and p.workers == 1 for p in prms)
    assert [p.id for p in pts] == ["threads-python__p1", "processes-python__p1"]


def test_modes_pick_their_pools_by_descriptor():
    # a caller-fed Python thread pool (not Dask's threads, not Numba's prange batch) and a
    # pool of forked processes
    assert {m: exp.MODES[m].backend() for m in exp.MODES} == {
        "threads-python": "threads",
        "threads-numba": "threads",
        "processes-python": "processes-fork",
    }
    prms = [p.typed(exp.Params) for p in exp.points(_config(), Node.here(2))]
    assert [p.backend for p in prms] == ["threads", "processes-fork"]


def test_measure_pairs_idle_and_busy_windows_of_every_switch_interval(
    records, no_leftover_children
):
    for rec in records:
        wins = rec["result"]["windows"]
        assert len(wins) == TINY["rounds"] * (1 + len(TINY["switch_intervals_ms"]))
        busy = [w for w in wins if w["background"] == "busy"]
        idle = [w for w in wins if w["background"] == "idle"]
        assert {w["switch_interval_ms"] for w in busy} == {0.5, 5.0}
        assert all(w["background_tasks"] > 0 for w in busy)  # the background really ran
        assert all(w["background_tasks"] == 0 for w in idle)  # and really paused
        assert all(len(w["latency"]) == 50 for w in wins)  # 0.1 s windows, one request / 2 ms


def test_table_has_latency_quantiles_rate_and_idle_rows(records):
    t = describe(exp.aggregate(records))
    assert len(t) == 2 * (1 + 2)
    assert set(t["mode"]) == {IDLE, "threads-python", "processes-python"}
    assert (t.p50_ms <= t.p99_ms).all() and (t.p99_ms <= t.max_ms).all()
    assert (t.p99_ci_lo_ms <= t.p99_ms).all() and (t.p99_ms <= t.p99_ci_hi_ms).all()
    assert ((t.rate_ratio > 0) & (t.rate_ratio <= 1.01)).all()
    assert t.percentiles_ms.map(len).eq(201).all()
    assert (t[t["mode"] != IDLE].background_samples_per_s > 0).all()
    assert {"time_median", "time_rel_halfwidth", "flags"} <= set(t.columns)


def test_verdict_and_plot_from_the_measured_table(records, tmp_path):
    t = describe(exp.aggregate(records))
    (v,) = verdicts_of("responsiveness", t, "testbox")
    assert v.claim == "C3" and v.plots == ("responsiveness.svg",)
    assert "threads-python" in v.evidence and "testbox" in v.conditions
    (path,) = plots_of("responsiveness", t, tmp_path, "testbox")
    assert (path.name,) == v.plots and "<svg" in path.read_text()


def _row(paired, mode, si, p50, p99, rate=1.0):
    """A table row as `aggregate` writes it: the backend (whose descriptor says whether the
    mode is threads) and kernel of the paired mode, "none" on its idle row."""
    m = exp.MODES[paired]
    backend, kernel = (m.backend(), m.kernel) if mode != IDLE else ("none", "none")
    return {
        "paired_with": paired,
        "mode": mode,
        "backend": backend,
        **columns_of(backend),
        "kernel": kernel,
        "workers": 2,
        "switch_interval_ms": si,
        "default_switch_interval_ms": 5.0,
        "probe_period_ms": 2.0,
        "p50_ms": p50,
        "p50_ci_lo_ms": p50 * 0.9,
        "p50_ci_hi_ms": p50 * 1.1,
        "p99_ms": p99,
        "p99_ci_lo_ms": p99 * 0.9,
        "p99_ci_hi_ms": p99 * 1.1,
        "max_ms": p99 * 2,
        "rate_ratio": rate,
    }


def test_gil_threads_slow_but_nogil_threads_fine_is_conditional():
    t = pd.DataFrame(
        [
            _row("threads-python", IDLE, 5.0, 0.1, 0.3),
            _row("threads-python", "threads-python", 5.0, 6.0, 40.0, rate=0.95),
            _row("threads-python", "threads-python", 50.0, 25.0, 100.0),
            _row("threads-numba", IDLE, 5.0, 0.1, 0.3),
            _row("threads-numba", "threads-numba", 5.0, 0.1, 0.5),
        ]
    )
    (v,) = responsiveness_verdicts(t, "m")
    assert v.verdict == "conditional"
    assert "holds for ['threads-numba'], not for ['threads-python']" in v.conditions
    assert "undecided" not in v.conditions
    assert v.headline == (
        "Depends on the work: yes for threads-numba (busy/(idle+period): 0.05–0.22×); "
        "no for threads-python (busy/(idle+period): 2.86–17.39×; needs < 1.00×)."
    )
    assert "threads-numba (mc-numba): p50 0.10" in v.evidence
    assert (
        "GIL switch interval -> latency: threads-python 5 ms: p50 6.00 / p99 40.0, " in v.evidence
    )
    assert "50 ms: p50 25.00" in v.evidence


def test_latency_straddling_the_tolerance_is_inconclusive():
    t = pd.DataFrame(
        [
            _row("threads-numba", IDLE, 5.0, 0.1, 0.3),
            # excess over idle: p50 1.87..2.33, p99 1.74..2.26 ms, both around the 2 ms tolerance
            _row("threads-numba", "threads-numba", 5.0, 2.2, 2.3),
        ]
    )
    (v,) = responsiveness_verdicts(t, "m")
    assert v.verdict == "inconclusive"
    assert v.conditions.endswith("undecided for ['threads-numba']")
    assert v.headline == (
        "Not decided for threads-numba: interval [0.94, 1.16] straddles the bar 1.00× and the "
        "band [1.00, 1.00]."
    )


def test_noisy_idle_baseline_is_inconclusive_not_a_pass():
    t = pd.DataFrame(
        [
            _row("threads-numba", IDLE, 5.0, 30.0, 60.0),  # the idle probe itself misses 2 ms
            _row("threads-numba", "threads-numba", 5.0, 0.1, 40.0),
        ]
    )
    (v,) = responsiveness_verdicts(t, "m")
    assert v.verdict == "inconclusive"
    assert "holds for none, not for none; undecided for ['threads-numba']" in v.conditions
    assert v.headline == (
        "Not decided for threads-numba: the idle p50 misses the 2 ms tolerance itself."
    )


def test_a_noisy_idle_tail_leaves_only_the_tail_undecided():
    t = pd.DataFrame(
        [
            _row("threads-numba", IDLE, 5.0, 0.1, 60.0),  # only the idle p99 misses 2 ms
            _row("threads-numba", "threads-numba", 5.0, 0.1, 40.0),
        ]
    )
    (v,) = responsiveness_verdicts(t, "m")
    assert v.verdict == "inconclusive"  # p50 and p99 must both hold
    assert {c["case"]: c["decision"] for c in v.cases} == {
        "mode=threads-numba|quantile=p50": "yes",
        "mode=threads-numba|quantile=p99": "undecided",
    }
    assert v.headline == (
        "Not decided for threads-numba: the idle p99 misses the 2 ms tolerance itself."
    )


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"seconds_per_condition": 0.02}, "experiments.responsiveness.seconds_per_condition"),
        ({"workers": 64}, "experiments.responsiveness.workers"),
    ],
)
def test_impossible_requests_name_the_key(bad, needle):
    with pytest.raises(cfg.ConfigError, match=needle.replace(".", r"\.")):
        exp.points(_config(**bad), Node.here(2))


def test_unknown_mode_is_rejected_by_the_schema():
    with pytest.raises(cfg.ConfigError, match=r"experiments\.responsiveness\.modes\[0\]"):
        _config(modes=["gpu"])


def test_probe_reports_lateness_against_a_fixed_schedule():
    lat, span = exp.probe(0.002, 0.02)
    assert len(lat) == 10 and np.all(np.asarray(lat) >= 0)
    assert span >= 0.02


@pytest.mark.parametrize(
    ("results", "verdict"),
    [
        ({"a": True, "b": False, "c": None}, "conditional"),
        ({"a": True, "c": None}, "conditional"),
        ({"c": None}, "inconclusive"),
        ({"a": True, "b": True}, "supported"),
        ({"a": False}, "refuted"),
    ],
)
def test_undecided_items_only_matter_when_they_could_change_the_verdict(results, verdict):
    assert combine(results) == verdict
