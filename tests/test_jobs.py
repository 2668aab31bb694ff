"""Jobs of points: resumption, retries, job records, tables' host columns, plan summaries."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pandas as pd
import pytest
from jobrecords import job_record

from coresweep import config as cs_config
from coresweep import experiments, planning
from coresweep.backends.watch import WorkerDied, current_bound
from coresweep.measure import drift, runner
from coresweep.measure.capacity import CapacityCheck
from coresweep.measure.cores import Node, cluster_node
from coresweep.planning import NOMINAL, Speed, jobs_of, predicted_seconds, summary_text
from coresweep.records import Point, read_raw

QUICK = {"capacity_wait_seconds": 0, "retries": 1}


@pytest.fixture(autouse=True)
def steady_reference(monkeypatch):
    """No drift unless a test says so: these tests pin the runner's logic, not the machine."""
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: 1.0)


def _point(i: int, **params) -> Point:
    return Point("scaling", f"pt{i}", {"p": 1, "protocol": QUICK, **params}, job="j", seconds=2)


def _counting_measure(calls: list[str]):
    def measure(point: Point) -> dict:
        calls.append(point.id)
        return {"value": len(calls)}

    return measure


def test_job_writes_one_raw_file_per_point_and_a_record(tmp_path):
    calls: list[str] = []
    pts = [_point(0), _point(1)]
    rec = runner.run_job(pts, lambda _: _counting_measure(calls), tmp_path)
    assert calls == ["pt0", "pt1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pt0.json", "pt1.json"]
    assert read_raw(tmp_path / "pt1.json")["result"]["value"] == 2
    assert rec["job"] == "j" and rec["predicted_s"] == 4
    assert [r["kept"] for r in rec["points"]] == [False, False]
    assert rec["startup_s"] > 0


def test_rerun_keeps_measured_points_and_remeasures_changed_ones(tmp_path):
    calls: list[str] = []
    runner.run_job([_point(0), _point(1)], lambda _: _counting_measure(calls), tmp_path)
    # an interrupted job rerun: pt0 is kept; pt1's params changed, so it is measured again
    calls.clear()
    rec = runner.run_job(
        [_point(0), _point(1, seed=3)], lambda _: _counting_measure(calls), tmp_path
    )
    assert calls == ["pt1"]
    assert [r["kept"] for r in rec["points"]] == [True, False]
    assert read_raw(tmp_path / "pt1.json")["point"]["params"]["seed"] == 3


def test_a_corrupt_raw_file_is_measured_again(tmp_path):
    (tmp_path / "pt0.json").write_text("{not json")
    calls: list[str] = []
    runner.run_job([_point(0)], lambda _: _counting_measure(calls), tmp_path)
    assert calls == ["pt0"]


def test_a_point_short_of_cores_is_measured_again_before_it_is_flagged(monkeypatch):
    probes = iter([False, True, True, True])  # short at the first start, fine after

    def fake_capacity(cores, wait_seconds=0.0):
        return CapacityCheck(cores, 1.0, 0.0, next(probes))

    monkeypatch.setattr(runner, "check_capacity", fake_capacity)
    calls: list[str] = []
    rec = runner.run_point(_point(0, p=2, threads=2), _counting_measure(calls), cores=2)
    job = rec["result"]["job"]
    assert calls == ["pt0", "pt0"]
    assert [a["capacity_flag"] for a in job["attempts"]] == [True, False]
    assert job["capacity_flag"] is False


def test_retries_are_bounded_by_the_config(monkeypatch):
    monkeypatch.setattr(
        runner, "check_capacity", lambda cores, wait_seconds=0.0: CapacityCheck(cores, 1, 0, False)
    )
    calls: list[str] = []
    point = Point("scaling", "x", {"p": 2, "protocol": {**QUICK, "retries": 2}})
    rec = runner.run_point(point, _counting_measure(calls), cores=2)
    assert len(calls) == 3 and rec["result"]["job"]["capacity_flag"] is True


def test_points_of_one_job_share_it_and_book_its_largest_p():
    pts = [
        Point("scaling", "a1", {"p": 1}, job="a", seconds=1, mem_mb=100),
        Point("scaling", "a4", {"p": 4}, job="a", seconds=2, mem_mb=300),
        Point("memory", "m", {"threads": 2}, seconds=5),
    ]
    jobs = jobs_of(pts)
    assert [(j.experiment, j.id, j.threads, j.mem_mb) for j in jobs] == [
        ("scaling", "a", 4, 300),
        ("memory", "m", 2, 0),
    ]
    assert [p["id"] for p in json.loads(jobs[0].spec())] == ["a1", "a4"]
    assert predicted_seconds(pts) > 8


def test_table_names_the_host_and_flags_a_curve_that_mixes_hosts(monkeypatch):
    def record(pid, host):
        job = job_record(
            capacity_start={"capacity": 1.9, "cores": 2, "waited_s": 0.0, "ok": True},
            capacity_end={"capacity": 1.5, "cores": 2, "waited_s": 0.0, "ok": True},
            drift=0.01,
        )
        return {
            "point": {"id": pid},
            "provenance": {"machine": {"hostname": host}},
            "result": {"job": job},
        }

    rows = pd.DataFrame(
        {
            "kernel": ["k"] * 4,
            "backend": ["threads", "threads", "fork", "fork"],
            "p": [1, 2, 1, 2],
            "flags": ["", "cv>10%", "", ""],
            "point": ["t1", "t2", "f1", "f2"],
        }
    )
    fake = type("E", (), {"aggregate": staticmethod(lambda records: rows.copy())})
    monkeypatch.setattr(experiments, "get_experiment", lambda name: fake)
    recs = [record("t1", "n1"), record("t2", "n2"), record("f1", "n1"), record("f2", "n1")]
    table = experiments.build_table("scaling", recs)
    assert list(table.host) == ["n1", "n2", "n1", "n1"]
    assert list(table["flags"]) == ["mixed-hosts", "cv>10%;mixed-hosts", "", ""]
    assert list(table.probe_capacity) == [1.5] * 4 and list(table.probe_cores) == [2] * 4


def test_config_values_given_as_strings_are_typed():
    """`snakemake --config 'cores={max: 32}'` hands '32' over."""
    cfg = cs_config.validate({"cores": {"max": "32", "oversubscribe": "true"}})
    assert cfg["cores"]["max"] == 32 and cfg["cores"]["oversubscribe"] is True
    cfg = cs_config.validate({"experiments": {"scaling": {"p": ["1", "4"]}}})
    assert cfg["experiments"]["scaling"]["p"] == [1, 4]
    with pytest.raises(cs_config.ConfigError, match="cores.max: 'many'"):
        cs_config.validate({"cores": {"max": "many"}})


def test_cluster_node_needs_the_node_cores():
    with pytest.raises(cs_config.ConfigError, match="cores.max"):
        cluster_node({"max": "auto", "node_memory_gib": 64})
    node = cluster_node({"max": 32, "node_memory_gib": 64})
    assert (node.cores, node.usable, node.memory_bytes, node.kind) == (
        32,
        32,
        64 * 2**30,
        "cluster",
    )


def _plan_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "coresweep.cli", "plan", *args], capture_output=True, text=True
    )


def test_plan_for_a_simulated_node_prints_points_and_a_summary():
    r = _plan_cli("--node-cores", "16", "--node-memory-gib", "32")
    assert r.returncode == 0, r.stderr
    points = [Point.from_json(line) for line in r.stdout.splitlines()]
    assert max(p.params.get("p", 0) for p in points) == 16
    assert "simulated node (not this machine): 16 cores" in r.stderr
    assert "total" in r.stderr and "prediction" in r.stderr
    node = Node.sized(16, 32)
    assert summary_text(points, node).splitlines()[-1] in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--node-cores", "0"), "--node-cores must be at least 1"),
        (("--node-cores", "4", "--node-memory-gib", "0"), "--node-memory-gib must be positive"),
    ],
)
def test_plan_refuses_an_impossible_node(args, needle):
    r = _plan_cli(*args)
    assert r.returncode == 2 and needle in r.stderr and not r.stdout


@pytest.mark.parametrize(
    ("refs", "flagged"),
    [
        ((1.0, 1.5, 1.0, 1.02), False),  # drifted 50%, then 2%: the retry is recorded
        ((1.0, 1.5, 1.0, 0.8), True),  # drifted both times: flagged after one retry
    ],
)
def test_a_drifted_reference_is_measured_again_then_flagged(monkeypatch, refs, flagged):
    monkeypatch.setattr(
        runner, "check_capacity", lambda cores, wait_seconds=0.0: CapacityCheck(cores, 1, 0, True)
    )
    it = iter(refs)
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: next(it))
    calls: list[str] = []
    rec = runner.run_point(_point(0, p=2, threads=2), _counting_measure(calls), cores=2)
    job = rec["result"]["job"]
    assert calls == ["pt0", "pt0"] and job["drift_flag"] is flagged
    assert [a["drift_flag"] for a in job["attempts"]] == [True, flagged]
    assert job["drift"] == pytest.approx(refs[3] / refs[2] - 1)


def test_the_timed_reference_work_allocates_nothing():
    """The reference must time the machine, not the allocator: an allocation inside it was
    served by mmap or by the heap depending on what the process had freed before."""
    import tracemalloc

    a, out = drift._buffers()
    drift._reference_work(a, out)
    tracemalloc.start()
    drift._reference_work(a, out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024


def test_retries_stop_when_the_jobs_retry_budget_is_spent(monkeypatch, tmp_path):
    """Budget 0.5 x (1 s + 2 s predicted) = 1.5 s: the 1 s point is measured again, the 2 s
    point no longer fits and is flagged without a retry."""
    monkeypatch.setattr(
        runner, "check_capacity", lambda cores, wait_seconds=0.0: CapacityCheck(cores, 1, 0, True)
    )
    refs = iter([1.0, 1.5] * 4)  # every attempt drifts 50%
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: next(refs))
    protocol = {**QUICK, "retry_budget": 0.5}
    pts = [
        Point("scaling", f"pt{i}", {"p": 1, "protocol": protocol}, job="j", seconds=s)
        for i, s in enumerate((1, 2))
    ]
    calls: list[str] = []
    runner.run_job(pts, lambda _: _counting_measure(calls), tmp_path)
    assert calls == ["pt0", "pt0", "pt1"]
    attempts = [read_raw(tmp_path / f"pt{i}.json")["result"]["job"]["attempts"] for i in (0, 1)]
    assert [len(a) for a in attempts] == [2, 1]
    assert all(a[-1]["drift_flag"] for a in attempts)


def _dying_measure(swallow: bool):
    """A measure whose pool lost worker pid 42 to SIGKILL (as a backend's watch records it)."""

    def measure(point: Point) -> dict:
        if point.id != "pt0":
            return {"value": 1}
        current_bound().failures.append(WorkerDied("processes-fork", 42, -9))
        if swallow:  # an experiment that caught the pool's error and went on
            return {"value": 0}
        raise RuntimeError("the pool's own error")

    return measure


@pytest.mark.parametrize("swallow", [False, True])
def test_a_point_whose_worker_died_is_failed_and_the_job_goes_on(tmp_path, swallow):
    rec = runner.run_job([_point(0), _point(1)], lambda _: _dying_measure(swallow), tmp_path)
    assert rec["failed"] == ["pt0"]
    assert rec["points"][0]["error"] == (
        "processes-fork worker pid 42 died of SIGKILL during point scaling/pt0"
    )
    assert rec["points"][1]["error"] == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pt1.json"]


def test_an_error_without_a_dead_worker_still_ends_the_job(tmp_path):
    def broken(point: Point) -> dict:
        raise ZeroDivisionError("a bug, not a dead worker")

    with pytest.raises(ZeroDivisionError):
        runner.run_job([_point(0)], lambda _: broken, tmp_path)


def test_each_wait_of_a_point_is_bounded_by_ten_times_its_prediction_plus_a_floor():
    seen: list[float] = []

    def measure(point: Point) -> dict:
        seen.append(current_bound().seconds)
        return {}

    runner.run_point(_point(0), measure)  # predicted 2 s
    assert seen == [10 * 2 + 10]
    assert current_bound() is None  # the bound ends with the point


def test_a_job_record_round_trips_and_one_missing_a_field_is_refused_naming_it():
    from coresweep.records import CorruptRawFile, JobFacts, job_of

    job = job_record(drift=0.2, drift_flag=True)
    facts = job_of({"job": job})
    assert isinstance(facts, JobFacts) and facts.drift == 0.2 and facts.as_dict() == job
    assert [c["capacity"] for c in facts.capacity_checks] == [2.0, 2.0]  # no ledger: 2 checks
    del job["capacity_flag"]
    with pytest.raises(CorruptRawFile, match=r"lacks \['capacity_flag'\]"):
        job_of({"job": job})
    with pytest.raises(CorruptRawFile, match="no job record"):
        job_of({})


def test_points_without_a_protocol_get_the_default_retry_budget():
    """Load's points carry no protocol; before, their job's retry budget was unbounded and
    both load points of a default run were measured twice (11.7 s each, run R)."""
    from coresweep.config_model import ProtocolSection

    pts = [Point("load", f"l{i}", {"p": 2}, job="load", seconds=10.0) for i in (0, 1)]
    assert runner.retry_budget(pts) == pytest.approx(20.0 * ProtocolSection().retry_budget)
    own = [Point("scaling", "s", {"p": 1, "protocol": {"retry_budget": 0.5}}, seconds=4.0)]
    assert runner.retry_budget(own + pts) == pytest.approx(2.0 + 2.0)


@pytest.mark.parametrize(
    ("ledger_ok", "readings", "flagged", "end", "first"),
    [
        (True, [2.0, 1.0, 1.98], False, 1.98, 1.0),  # a burst after the point: recovered
        (True, [2.0, 1.0, 1.1], True, 1.1, 1.0),  # still low: a slowdown the ledger misses
        (False, [2.0, 1.0], True, 1.0, None),  # the ledger saw it too: no second probe
    ],
)
def test_a_low_probe_after_a_point_is_taken_again_when_the_ledger_saw_its_cores_free(
    monkeypatch, ledger_ok, readings, flagged, end, first
):
    from coresweep.measure.capacity import LOW, DuringCheck

    it = iter(readings)  # start, end, end again: a fourth probe would raise StopIteration

    def fake_capacity(cores, wait_seconds=0.0):
        c = next(it)
        return CapacityCheck(cores, c, 0.0, c >= LOW * cores)

    ledger = DuringCheck(2, 2.0 if ledger_ok else 1.2, 0.0, 0.0, 1.0, ledger_ok, 2)
    monkeypatch.setattr(runner, "check_capacity", fake_capacity)
    monkeypatch.setattr(runner, "during", lambda before, after, cores: ledger)
    monkeypatch.setattr(runner, "END_REPROBE_PAUSE", 0.0)
    point = _point(0, p=2, threads=2, protocol={**QUICK, "retries": 0})
    job = runner.run_point(point, _counting_measure([]), cores=2)["result"]["job"]
    assert job["capacity_flag"] is flagged and job["capacity_end"]["capacity"] == end
    assert (job["capacity_end_first"] or {}).get("capacity") == first


@pytest.mark.parametrize(
    ("readings", "reuse_s", "probes", "reused"),
    [
        ([2.0, 2.0, 2.0], 2.0, 3, True),  # the second point starts from the first's end
        ([2.0, 1.0, 1.0, 2.0, 2.0], 2.0, 5, False),  # the first ended short: probed afresh
        ([2.0, 2.0, 2.0, 2.0], -1.0, 4, False),  # too long ago: probed afresh
    ],
)
def test_a_point_starts_from_the_previous_points_end_probes_when_they_are_whole_and_fresh(
    monkeypatch, readings, reuse_s, probes, reused
):
    from coresweep.measure.capacity import LOW, DuringCheck

    it = iter(readings)
    taken: list[float] = []

    def fake_capacity(cores, wait_seconds=0.0):
        taken.append(c := next(it))
        return CapacityCheck(cores, c, 0.0, c >= LOW * cores)

    refs = iter([1.0, 1.01, 1.02, 1.03])
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: next(refs))
    monkeypatch.setattr(runner, "check_capacity", fake_capacity)
    monkeypatch.setattr(runner, "during", lambda *a: DuringCheck(2, 2.0, 0, 0, 1.0, True, 2))
    monkeypatch.setattr(runner, "END_REPROBE_PAUSE", 0.0)
    monkeypatch.setattr(runner, "START_REUSE_SECONDS", reuse_s)
    quiet = {**QUICK, "retries": 0}
    first = runner.run_point(_point(0, p=2, threads=2, protocol=quiet), _counting_measure([]), 2)
    second = runner.run_point(_point(1, p=2, threads=2, protocol=quiet), _counting_measure([]), 2)
    job, before = second["result"]["job"], first["result"]["job"]
    assert len(taken) == probes
    assert job["capacity_start_reused"] is job["reference_start_reused"] is reused
    assert not before["capacity_start_reused"] and not before["reference_start_reused"]
    if reused:  # the first point's end readings, as they were
        assert job["capacity_start"] == {**before["capacity_end"], "waited_s": 0}
        assert job["reference_start_s"] == before["reference_end_s"] == 1.01
    else:
        assert job["reference_start_s"] == 1.02


def test_a_retry_probes_afresh_and_another_cores_count_reuses_only_the_reference(monkeypatch):
    taken: list[int] = []

    def fake_capacity(cores, wait_seconds=0.0):
        taken.append(cores)
        return CapacityCheck(cores, float(cores), 0.0, True)

    refs = iter([1.0, 1.5, 1.0, 1.0, 1.0])  # the first attempt drifts: one retry
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: next(refs))
    monkeypatch.setattr(runner, "check_capacity", fake_capacity)
    rec = runner.run_point(_point(0, p=2, threads=2), _counting_measure([]), cores=2)
    assert [a["drift_flag"] for a in rec["result"]["job"]["attempts"]] == [True, False]
    assert taken == [2, 2, 2, 2]  # start, end, and the retry's own start and end
    other = runner.run_point(_point(1, p=1, threads=1), _counting_measure([]), cores=2)
    job = other["result"]["job"]
    assert taken == [2, 2, 2, 2, 1, 1]  # its own capacity (one core) at the start
    assert not job["capacity_start_reused"] and job["reference_start_reused"]
    assert job["reference_start_s"] == 1.0  # the retry's end; its own end is the fifth


def test_end_probes_stand_as_a_start_only_whole_and_recent_the_capacity_for_the_same_probe():
    whole, short = CapacityCheck(2, 1.98, 0.0, True), CapacityCheck(2, 1.2, 0.0, False)
    runner._LAST_END[:] = [runner.EndProbes(2, (), whole, 1.0, at=10.0)]
    cap, ref = runner.reusable_start(2, {}, now=10.0 + runner.START_REUSE_SECONDS)
    assert cap == whole and ref == 1.0
    assert runner.reusable_start(2, {}, now=10.01 + runner.START_REUSE_SECONDS) == (None, None)
    assert runner.reusable_start(1, {}, now=10.0) == (None, 1.0)  # another cores count
    assert runner.reusable_start(2, {"cpu": "auto"}, now=10.0) == (None, 1.0)  # pinned
    runner._LAST_END[:] = [runner.EndProbes(2, (), short, 1.0, at=10.0)]
    assert runner.reusable_start(2, {}, now=10.0) == (None, None)


def test_a_start_that_waited_for_cores_times_the_reference_afresh(monkeypatch):
    refs = iter([1.0, 1.1, 1.2])
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: next(refs))
    monkeypatch.setattr(
        runner, "check_capacity", lambda cores, wait_seconds=0.0: CapacityCheck(cores, 1, 3.0, True)
    )
    runner._LAST_END[:] = [runner.EndProbes(1, (), CapacityCheck(1, 1, 0, True), 0.9, 0.0)]
    monkeypatch.setattr(runner, "START_REUSE_SECONDS", math.inf)
    point = _point(0, p=2, threads=2, protocol={**QUICK, "retries": 0})
    job = runner.run_point(point, _counting_measure([]), 2)["result"]["job"]
    assert job["reference_start_s"] == 1.0 and not job["reference_start_reused"]


@pytest.mark.parametrize(
    ("readings", "reused_cap", "reused_ref"),
    [
        # the end probe read low and recovered on the second look: a burst the end
        # reference may have met, so the next point probes and times afresh
        ([2.0, 1.0, 2.0, 2.0, 2.0], False, False),
        ([2.0, 2.0, 2.0], True, True),  # a whole end: both stand as the next start
    ],
)
def test_end_readings_after_a_burst_are_not_reused(monkeypatch, readings, reused_cap, reused_ref):
    from coresweep.measure.capacity import LOW, DuringCheck

    it = iter(readings)
    monkeypatch.setattr(
        runner,
        "check_capacity",
        lambda cores, wait_seconds=0.0: CapacityCheck(cores, c := next(it), 0.0, c >= LOW * cores),
    )
    refs = iter([1.0, 1.01, 1.02, 1.03])
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: next(refs))
    monkeypatch.setattr(runner, "during", lambda *a: DuringCheck(2, 2.0, 0, 0, 1.0, True, 2))
    monkeypatch.setattr(runner, "END_REPROBE_PAUSE", 0.0)
    quiet = {**QUICK, "retries": 0}
    runner.run_point(_point(0, p=2, threads=2, protocol=quiet), _counting_measure([]), 2)
    job = runner.run_point(_point(1, p=2, threads=2, protocol=quiet), _counting_measure([]), 2)
    job = job["result"]["job"]
    assert job["capacity_start_reused"] is reused_cap
    assert job["reference_start_reused"] is reused_ref


def test_a_short_start_that_did_not_wait_times_the_reference_afresh(monkeypatch):
    refs = iter([1.0, 1.1])
    monkeypatch.setattr(runner.drift, "reference_seconds", lambda: next(refs))
    monkeypatch.setattr(
        runner,
        "check_capacity",
        lambda cores, wait_seconds=0.0: CapacityCheck(cores, 1, 0.0, False),
    )
    runner._LAST_END[:] = [runner.EndProbes(1, (), CapacityCheck(1, 1, 0, True), 0.9, 0.0)]
    monkeypatch.setattr(runner, "START_REUSE_SECONDS", math.inf)
    point = _point(0, p=2, threads=2, protocol={**QUICK, "retries": 0})
    job = runner.run_point(point, _counting_measure([]), 2)["result"]["job"]
    assert job["reference_start_s"] == 1.0 and not job["reference_start_reused"]


def test_the_time_left_in_a_job_is_the_prediction_at_the_pace_so_far():
    pace = runner.Pace()
    assert pace.left(30.0) == 30.0 and pace.text() == ""
    pace = pace.add(2.0, 3.0).add(4.0, 6.0)  # every point took 1.5 x its prediction
    assert pace.ratio == 1.5 and pace.left(10.0) == 15.0
    assert pace.text() == " at this job's pace, x1.50 the plan"


def test_the_job_log_gives_the_time_left_at_the_pace_of_its_points(tmp_path, caplog):
    caplog.set_level("INFO", logger="coresweep")
    pts = [_point(0), _point(1), _point(2)]  # 2 s predicted each
    rec = runner.run_job(pts, lambda _: _counting_measure([]), tmp_path)
    lines = [r.getMessage() for r in caplog.records if "left in this job" in r.getMessage()]
    assert lines[0].endswith("about 6 s left in this job)")  # nothing done yet: the plan
    ratio = rec["points"][0]["seconds"] / 2  # the first point's measured over predicted
    assert lines[1].endswith(
        f"about {4 * ratio:.0f} s left in this job at this job's pace, x{ratio:.2f} the plan)"
    )


def test_a_plan_at_another_speed_scales_every_prediction_by_the_reference_ratio():
    pts = experiments.plan(cs_config.load(None), Node(2, 2, 8 * 2**30))
    slow = Speed(2 * planning.NOMINAL_REFERENCE_S)
    assert slow.factor == 2.0 and NOMINAL.factor == 1.0
    assert predicted_seconds(pts, slow) == pytest.approx(2 * predicted_seconds(pts))
    assert [x.seconds for x in planning.summarize(pts, slow)] == pytest.approx(
        [2 * x.seconds for x in planning.summarize(pts)]
    )
    text = summary_text(pts, Node(2, 2, 8 * 2**30), slow)
    assert (
        "the reference took 4.00 ms here against 2.00 ms where the costs were measured, so x2.00"
        in text
    )
    # a reading far off is a disturbance, not a speed: the factor stays within its bounds
    assert Speed(100 * planning.NOMINAL_REFERENCE_S).factor == planning.SPEED_BOUNDS[1]
    assert Speed(0.01 * planning.NOMINAL_REFERENCE_S).factor == planning.SPEED_BOUNDS[0]


def test_only_this_machine_is_timed_for_its_speed(monkeypatch):
    readings = iter([3e-3, 9e-3, 4e-3, 3.5e-3, 5e-3])
    monkeypatch.setattr(drift, "reference_seconds", lambda: next(readings))
    assert planning.speed_of(Node.sized(16, 64)) is NOMINAL  # simulated: nothing timed
    assert planning.speed_of(Node(2, 2, 2**30)) == Speed(3e-3)  # the best of five readings
    assert "not timed" in summary_text([], Node.sized(16, 64), NOMINAL)
