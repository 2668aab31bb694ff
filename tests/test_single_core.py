"""C10 single core: planning, a tiny pinned measurement, table, verdict rules, plot, errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pinned import measure_restoring

from coresweep import config as cfg
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.analysis.verdicts.single_core import single_core_verdicts
from coresweep.experiments import single_core as exp
from coresweep.measure.cores import Node, affinity
from coresweep.report.plots.registry import plots as plots_of

TINY = {
    "kinds": ["tcp", "cpu"],
    "thread_counts": [1, 4],
    "tasks": 8,
    "io_ms": 1,
    "cpu_samples": 100,
}
PROTOCOL = {"repeats": 6, "max_repeats": 6, "min_sample_seconds": 0.01, "point_budget_seconds": 1,
            "decisive_max_repeats": 6}  # fmt: skip


def _config(**kw):
    return cfg.validate({"protocol": PROTOCOL, "experiments": {"single_core": {**TINY, **kw}}})


@pytest.fixture(scope="module")
def records():
    return measure_restoring(exp, _config())


def test_one_single_cpu_point_per_kind():
    pts = exp.points(_config(), Node.here(2))
    assert [p.params["kind"] for p in pts] == ["tcp", "cpu"]
    assert pts[1].typed(exp.Params).thread_counts == [1, 4]  # the params read back typed
    # the TCP peer gets a core beside the pinned one
    assert [p.params["threads"] for p in pts] == [2, 1]
    assert all(p.params["cpu"] == "auto" for p in pts)
    assert pts[0].id == "tcp__cpu-auto"
    assert exp.points(_config(), Node.here(1))[0].params["threads"] == 1
    assert {p.job for p in pts} == {"single_core"} and all(p.seconds > 0 for p in pts)


def test_the_capacity_probe_checks_only_the_pinned_cpu():
    from coresweep.measure.capacity import check_capacity

    pts = exp.points(_config(), Node.here(2))
    # the tcp point books two cores (its peer's), yet the runner probes the pinned CPU alone
    assert [p.params["protocol"]["probe_cpu"] for p in pts] == ["auto", "auto"]
    check = check_capacity(2, cpu=pts[0].params["protocol"]["probe_cpu"])
    assert check.cores == 1 and 0 < check.capacity <= 1
    assert check.ok == (check.capacity >= 0.85)


def test_the_runner_probes_one_cpu_for_a_point_that_books_two():
    from coresweep.measure import runner
    from coresweep.records import Point

    (tcp,) = exp.points(_config(kinds=["tcp"]), Node.here(2))
    protocol = {**tcp.params["protocol"], "capacity_wait_seconds": 0, "retries": 0}
    point = Point("single_core", "probe", {"threads": tcp.threads, "protocol": protocol})
    rec = runner.run_point(point, lambda _: {}, cores=2, prov={})
    assert tcp.threads == 2 and point.threads == 2
    assert rec["result"]["job"]["capacity_start"]["cores"] == 1
    assert rec["result"]["job"]["capacity_end"]["cores"] == 1


def test_every_gain_over_one_thread_decides_and_is_sampled_until_decisive():
    base = _config()["protocol"] | {"decisive_max_repeats": 10}
    cpu = exp.points(_config(), Node.here(2))[1].typed(exp.Params)
    plain, decisive = (
        exp.predict(replace(cpu, protocol=p))[0] for p in (base | {"decisive_max_repeats": 6}, base)
    )
    assert decisive > plain


def test_measure_runs_every_thread_count_on_one_cpu(records):
    for rec in records:
        r = rec["result"]
        assert r["pinned_ok"] and r["cpu"] == affinity()[-1]
        assert [a["threads"] for a in r["arms"]] == [1, 4]
        for a in r["arms"]:
            assert len(a["wall"]) == 6 and min(a["wall"]) > 0
            assert len(a["last_batch_latency"]) == TINY["tasks"]
            assert a["task_latency"]["n"] >= 4 * TINY["tasks"]  # warm-up + 3 samples


def test_io_tasks_really_wait(records):
    tcp = next(r["result"] for r in records if r["result"]["kind"] == "tcp")
    # every request waits for the peer's 1 ms delay: the latency has a floor, not a ceiling
    assert min(min(a["last_batch_latency"]) for a in tcp["arms"]) >= 0.001


def test_table_has_throughput_gain_and_latency(records, tmp_path):
    t = exp.aggregate(records)
    assert len(t) == 4
    assert (t[t.threads == 1].gain_vs_1 == 1.0).all()
    assert (t.throughput_ci_lo <= t.throughput).all() and (t.throughput <= t.throughput_ci_hi).all()
    assert (t.latency_p50_ms <= t.latency_p99_ms).all()
    assert {"time_median", "time_rel_halfwidth", "flags", "busy_cores"} <= set(t.columns)
    (v,) = verdicts_of("single_core", t, "testbox")
    assert v.claim == "C10" and v.plots == ("single_core.svg",)
    assert "tcp: 4 vs 1 threads" in v.evidence
    (path,) = plots_of("single_core", t, tmp_path, "testbox")
    assert (path.name,) == v.plots and "<svg" in path.read_text()


def _rows(kind, gain, lo, hi):
    common = {"cpu": 1, "tasks": 64, "io_ms": 4, "cpu_samples": 800, "pinned_ok": True}
    one = {"kind": kind, "threads": 1, "gain_vs_1": 1.0, "gain_ci_lo": 0.95, "gain_ci_hi": 1.05}
    top = {"kind": kind, "threads": 64, "gain_vs_1": gain, "gain_ci_lo": lo, "gain_ci_hi": hi}
    lat = {"throughput": 100.0, "latency_p50_ms": 1.0, "latency_p99_ms": 2.0}
    return [{**common, **lat, **one}, {**common, **lat, **top}]


def test_io_gains_and_cpu_does_not_is_conditional():
    # cpu's gain interval 0.9-1.0 lies below 1.05: not effective, decided
    t = pd.DataFrame(_rows("sleep", 30, 25, 35) + _rows("cpu", 1.0, 0.9, 1.0))
    (v,) = single_core_verdicts(t, "m")
    assert v.verdict == "conditional"
    assert v.conditions.endswith("holds for ['sleep'], not for ['cpu']")
    assert v.headline == (
        "Depends on the kind of work: yes for sleep (throughput over one thread's: 30.00×); "
        "no for cpu (no more than one thread: 1.00×; needs > 1.05×)."
    )


def test_every_kind_gaining_is_supported_and_none_refuted():
    (yes,) = single_core_verdicts(pd.DataFrame(_rows("tcp", 9, 8, 10)), "m")
    assert yes.verdict == "supported"
    assert yes.headline == "Yes for tcp (throughput over one thread's: 9.00×)."
    (no,) = single_core_verdicts(pd.DataFrame(_rows("cpu", 1, 0.9, 1.0)), "m")
    assert no.verdict == "refuted"
    assert no.headline == "No for cpu (no more than one thread: 1.00×; needs > 1.05×)."


def test_a_gain_interval_straddling_the_threshold_is_undecided():
    (alone,) = single_core_verdicts(pd.DataFrame(_rows("cpu", 1, 0.5, 1.2)), "m")
    assert alone.verdict == "inconclusive"
    assert alone.headline == (
        "Not decided for cpu: interval [0.50, 1.20] straddles the bar 1.05× and the band "
        "[0.95, 1.05]."
    )
    t = pd.DataFrame(_rows("sleep", 30, 25, 35) + _rows("cpu", 1.0, 0.9, 1.1))
    (v,) = single_core_verdicts(t, "m")
    assert v.verdict == "conditional"
    assert v.conditions.endswith("holds for ['sleep'], not for none; undecided for ['cpu']")
    assert v.headline == (
        "Depends on the kind of work: yes for sleep (throughput over one thread's: 30.00×); "
        "not decided for cpu."
    )


def test_every_thread_count_samples_in_the_same_rounds_and_gains_pair_them(records):
    """Arms sampled together: equal counts, and the gain is the median of per-round ratios."""
    t = exp.aggregate(records)
    for rec in records:
        one, four = rec["result"]["arms"]
        assert len(one["wall"]) == len(four["wall"])
        per_round = np.asarray(one["wall"]) / np.asarray(four["wall"])
        row = t[(t.kind == rec["result"]["kind"]) & (t.threads == 4)].iloc[0]
        assert row.gain_vs_1 == pytest.approx(float(np.median(per_round)))


def _drifted(rows, point, n):
    flagged = {"flags": "reference-drift", "drift": 0.376, "point": point, "n": n}
    return pd.DataFrame([{**r, **flagged} for r in rows])


def test_a_drift_counts_per_round_where_both_arms_are_one_points_rounds():
    """The EPYC VM's cpu point (run A2): a 37.6% drift over the point. Paired over 8 rounds
    it widens by x1.047, so 0.96 [0.93, 0.98] stays below the 1.05x bar: "no". From two
    points (unpaired) the full x1.376 leaves it undecided."""
    rows = _rows("cpu", 0.96, 0.93, 0.98)
    (paired,) = single_core_verdicts(_drifted(rows, "cpu__cpu-auto", 8), "m")
    assert paired.verdict == "refuted"
    (case,) = paired.cases
    assert (round(case["lo_widened"], 4), round(case["hi_widened"], 4)) == (0.8883, 1.0261)
    apart = _drifted(rows, "cpu__cpu-auto", 8).assign(point=["one", "other"])
    (unpaired,) = single_core_verdicts(apart, "m")
    assert unpaired.verdict == "inconclusive"
    assert "reference-drift, 37.6% (x1.38)" in unpaired.cases[0]["reason"]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"thread_counts": [2, 4]}, r"experiments\.single_core\.thread_counts"),
        ({"cpu": 4096}, r"experiments\.single_core\.cpu"),
    ],
)
def test_impossible_requests_name_the_key(bad, needle):
    with pytest.raises(cfg.ConfigError, match=needle):
        exp.points(_config(**bad), Node.here(2))


def test_unknown_kind_is_rejected_by_the_schema():
    with pytest.raises(cfg.ConfigError, match=r"experiments\.single_core\.kinds\[0\]"):
        _config(kinds=["disk"])
