"""C6 robustness: sacrificial runs, fault cells under real pools, table, verdict, plot, cleanup."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import psutil
import pytest
from jobrecords import job_record, measured

from coresweep import config as cfg
from coresweep.analysis.verdicts.faults import faults_verdicts
from coresweep.backends import BACKENDS
from coresweep.costs import cell_pool_seconds, restart_seconds
from coresweep.experiments import faults as exp
from coresweep.experiments import with_descriptors
from coresweep.measure.cores import Node
from coresweep.measure.faultinject import blow_up_memory
from coresweep.measure.sacrificial import run_sacrificial
from coresweep.report.plots.registry import plots as plots_of

TINY = {
    "workers": 2,
    "tasks": 6,
    "faulty_task": 2,
    "task_seconds": 0.02,
    "hang_seconds": 1,
    "recovery_seconds": 20,  # waits only as long as needed; a busy machine restarts Dask slowly
    "timeout_seconds": 40,
    "memory_mib": 32,
}


def _config(**kw):
    return cfg.validate({"experiments": {"faults": {**TINY, **kw}}})


# --- the sacrificial subprocess -----------------------------------------------------------


def _returns(emit, x):
    emit("note", x=x)
    return 2 * x


def _raises(emit):
    raise ValueError("bad input")


def _exits_after_event(emit):
    emit("before")
    os._exit(3)


def _sleeps(emit):
    time.sleep(60)


def _crashes_with_pool(emit):
    import multiprocessing as mp

    pool = mp.get_context("fork").Pool(2)
    emit("pool", pids=[w.pid for w in pool._pool])
    os.kill(os.getpid(), signal.SIGKILL)


def _alive(pids):
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_sacrificial_run_returns_value_and_events(no_leftover_children):
    out = run_sacrificial(_returns, (21,), timeout=10)
    assert (out.status, out.value, out.exitcode, out.killed) == ("ok", 42, 0, 0)
    assert [(e.kind, e.data) for e in out.events] == [("note", {"x": 21})]


def test_sacrificial_run_reports_exception_crash_and_hang(no_leftover_children):
    err = run_sacrificial(_raises, timeout=10)
    assert err.status == "error" and err.error == "ValueError: bad input"
    crash = run_sacrificial(_exits_after_event, timeout=10)
    assert (crash.status, crash.exitcode) == ("crashed", 3)
    assert [e.kind for e in crash.events] == ["before"]  # what it said before dying is kept
    t0 = time.monotonic()
    hung = run_sacrificial(_sleeps, timeout=0.5)
    assert hung.status == "hung" and hung.exitcode == -signal.SIGKILL and hung.killed == 1
    assert time.monotonic() - t0 < 5


def test_sacrificial_run_kills_the_orphans_of_a_crashed_child(no_leftover_children):
    out = run_sacrificial(_crashes_with_pool, timeout=10)
    assert out.status == "crashed" and out.exitcode == -signal.SIGKILL
    workers = out.events[0].data["pids"]
    assert len(workers) == 2 and not _alive(workers)


def test_memory_blow_up_is_bounded_and_restores_the_limit():
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(MemoryError):
        blow_up_memory(32)
    assert resource.getrlimit(resource.RLIMIT_AS) == before


# --- planning and config errors -----------------------------------------------------------


def test_one_point_per_backend_with_every_fault():
    pts = exp.points(_config(), Node.here(2))
    assert [p.id for p in pts] == [
        "threads__w2",
        "process-pool__w2",
        "processes-fork__w2",
        "loky__w2",
        "dask-processes__w2",
        "dask-threads__w2",
    ]
    assert all(p.params["faults"] == list(exp.FAULTS) for p in pts)
    assert all(p.params["threads"] == 2 for p in pts)
    assert exp.points(_config(), Node.here(1))[0].params["threads"] == 1


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        (
            {"backends": ["mpi"]},
            r"experiments.faults.backends: unknown backend 'mpi'; allowed: dask-cluster",
        ),
        (
            {"backends": ["numba-parallel"]},
            r"experiments.faults.backends: \['numba-parallel'\] run a whole batch",
        ),
        (
            {"faults": ["fire"]},
            r"experiments.faults.faults: unknown \['fire'\]; allowed: exception",
        ),
        ({"faulty_task": 6}, r"experiments.faults.faulty_task: 6 .*allowed: 0..5"),
        ({"timeout_seconds": 2}, r"experiments.faults.timeout_seconds: .*allowed: more than"),
        ({"memory_mib": 10**9}, r"experiments.faults.memory_mib"),
    ],
)
def test_bad_config_names_the_key(kw, needle):
    with pytest.raises(cfg.ConfigError, match=needle):
        exp.points(_config(**kw), Node.here(2))


def test_zero_trials_is_refused_with_the_key():
    with pytest.raises(cfg.ConfigError, match=r"experiments.faults.trials: 0 is less than"):
        _config(trials=0)


def test_trials_move_the_faulty_task_over_every_index_from_the_seed():
    where = exp.placements(2, 6, seed=7)
    assert where[0] == 2 and sorted(where) == list(range(6))
    assert where == exp.placements(2, 6, seed=7) != exp.placements(2, 6, seed=8)
    (point, *_) = exp.points(_config(), Node.here(2))
    # the faults that end a process get `trials`; an exception and a MemoryError (which ends
    # none) `exception_trials`
    assert point.params["trials"] == {"exception": 1, "exit": 5, "segv": 5, "sigkill": 5,
                                      "memory": 1}  # fmt: skip


def _seconds(backend: str, **kw) -> float:
    (point,) = exp.points(_config(backends=[backend], **kw), Node.here(2))
    return point.seconds


def test_planner_counts_every_trial_where_a_dead_worker_may_spare_its_neighbours():
    # a dead loky worker fails the tasks in flight: the first trial ends the cell; a fork
    # pool's other tasks complete and Dask's nanny reschedules them: every trial runs
    (point, *_) = exp.points(_config(), Node.here(2))
    prm = dataclasses.replace(point.typed(exp.Params), trials={f: 5 for f in exp.FAULTS},
                              stop_at_first_loss=True, isolation_rate=0.3, max_trials=12)  # fmt: skip
    assert exp.expected_trials("pool-restarted", "sigkill", prm) == 1
    # a cell that loses nothing runs on until 11 clean trials bound the loss rate below 30%
    assert exp.expected_trials("pool-restarted", "memory", prm) == 5  # MemoryError: no death
    assert exp.expected_trials("worker-replaced-task-lost", "exit", prm) == 11
    # a Dask worker's death takes a neighbour by chance (~1 in 3): expected trials to the
    # first loss, at most the 8 of max_trials
    q = exp.LOSS_PER_TRIAL["worker-restarted"]
    expected = exp.expected_trials(
        "worker-restarted", "segv", dataclasses.replace(prm, max_trials=8)
    )
    assert expected == pytest.approx((1 - (1 - q) ** 8) / q) and 2 < expected < 8
    assert (
        exp.expected_trials(
            "pool-restarted", "sigkill", dataclasses.replace(prm, stop_at_first_loss=False)
        )
        == 11
    )
    one = _seconds("dask-processes", trials=1, max_trials=1)
    five = _seconds("dask-processes", trials=5, max_trials=5)
    nanny = BACKENDS["dask-processes"].descriptor
    memory = exp.SUBPROCESS_SECONDS + 0.7 + 3 * 0.02  # start, its pool (costs), 6 tasks
    assert cell_pool_seconds(nanny) == 0.7
    killed = memory + 0.6  # ... and the nanny restarting the dead worker
    assert restart_seconds(nanny) == 0.6
    # the killing faults run on to their expected first loss; memory keeps its one trial
    more = (1 - (1 - q) ** 5) / q - 1
    assert five - one == pytest.approx(3 * killed * more)
    everything = _seconds("loky", trials=5, max_trials=5, stop_at_first_loss=False)
    # loky loses at once: its first trial ends each killing cell, whatever `trials` says
    assert (
        everything
        > _seconds("loky", trials=5, max_trials=5)
        == _seconds("loky", trials=1, max_trials=1)
    )


def _raw(outcome: str, faulty: int = 2) -> dict:
    """A trial's raw cell of 6 tasks whose events give `outcome` (isolated or others-lost)."""
    tasks = [{"t": 0.1 + i / 100, "kind": "task", "index": i, "ok": i != faulty, "error": "E"}
             for i in range(6) if outcome == "isolated" or i in (faulty, 0)]  # fmt: skip
    events = [{"t": 0.0, "kind": "started"}, {"t": 0.0, "kind": "submitting"}, *tasks,
              {"t": 0.5, "kind": "waited", "pending": []},
              {"t": 0.6, "kind": "recovery", "ok": outcome == "isolated", "s": 0.1,
               "error": "" if outcome == "isolated" else "BrokenPool"}]  # fmt: skip
    return {"fault": "sigkill", "workers": 2, "tasks": 6, "faulty": faulty, "hang_seconds": 1,
            "allowed_failures": 1, "status": "ok", "exitcode": 0, "error": "", "wall": 0.7,
            "killed": 0, "orphans": 0, "events": events}  # fmt: skip


def test_a_cell_counts_its_trials_and_shows_its_most_frequent_outcome():
    cells = [_raw("isolated", 2), _raw("others-lost", 4), _raw("isolated", 1)]
    rec = {"result": {"backend": "loky", "cells": cells, "job": job_record()},
           "point": {"id": "loky__w2"}, "provenance_hash": "h"}  # fmt: skip
    (row,) = exp.aggregate([rec]).to_dict("records")
    assert (row["outcome"], row["trials"], row["trials_isolated"]) == ("isolated", 3, 2)
    assert (row["trials_others_lost"], row["trials_hung"], row["trials_caller_died"]) == (1, 0, 0)
    assert (row["faulty_task"], row["faulty_tasks"]) == (2, "2,4,1")
    # a tie takes the worse outcome
    rec["result"]["cells"] = cells[:2]
    (row,) = exp.aggregate([rec]).to_dict("records")
    assert (row["outcome"], row["faulty_task"], row["others_lost"]) == ("pool-broken", 4, 4)


# --- measuring real cells -----------------------------------------------------------------

CELLS = {
    "threads": ["exception", "sigkill", "memory"],
    "process-pool": ["segv"],
    "processes-fork": ["exit"],
    "dask-processes": ["sigkill"],
    "loky": ["exception"],
}


@pytest.fixture(scope="module")
def table():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    records = []
    for point in exp.points(_config(backends=list(CELLS), trials=3, max_trials=3), Node.here(2)):
        point.params["faults"] = CELLS[point.params["backend"]]
        records.append(measured(exp, point))
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before
        and p.status() != "zombie"
        and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert not left, f"measure left {left}"
    return with_descriptors(exp.aggregate(records))  # as build_table gives it


def _cell(table: pd.DataFrame, backend: str, fault: str) -> pd.Series:
    return table.set_index(["backend", "fault"]).loc[(backend, fault)]


def test_every_requested_cell_is_filled(table):
    assert len(table) == sum(map(len, CELLS.values()))
    assert table.outcome.isin(["isolated", "others-lost", "pool-broken", "hung", "crashed"]).all()
    assert (table.orphans == 0).all()
    assert (table.status != "hung").all()  # nothing reached the hard timeout


def test_threads_isolate_an_exception_but_die_with_sigkill(table):
    exc = _cell(table, "threads", "exception")
    assert (exc.outcome, exc.others_completed, exc.error_seen) == ("isolated", 5, "InjectedFault")
    assert exc.recovered and exc.detect_s > 0
    assert (exc.trials, exc.trials_isolated) == (1, 1)  # exception_trials
    kill = _cell(table, "threads", "sigkill")
    assert (kill.outcome, kill.error_seen, kill.recovered) == (
        "crashed",
        "process died (SIGKILL)",
        False,
    )
    # the first trial lost the program: the cell stops there (stop_at_first_loss)
    assert (kill.trials, kill.trials_caller_died, kill.trials_others_lost) == (1, 1, 1)
    assert kill.others_completed + kill.others_lost == 5
    mem = _cell(table, "threads", "memory")
    assert mem.error_seen == "MemoryError" and mem.faulty_outcome == "failed"


def test_process_pool_executor_breaks_and_mp_pool_hangs(table):
    assert set(table.backend_supervision) >= {"program-lost", "pool-broken", "worker-restarted"}
    ppe = _cell(table, "process-pool", "segv")
    assert (ppe.outcome, ppe.error_seen, ppe.recovered) == (
        "pool-broken",
        "BrokenProcessPool",
        False,
    )
    assert ppe.others_lost >= 1 and ppe.caller_survived
    assert (ppe.trials, ppe.trials_others_lost, ppe.trials_caller_died) == (1, 1, 0)
    mp = _cell(table, "processes-fork", "exit")
    assert (mp.outcome, mp.faulty_outcome, mp.error_seen) == ("hung", "hung", "none")
    assert mp.others_completed == 5 and mp.recovered  # a new worker replaced the dead one
    # the dead worker's own task never returns, every other task completes: the pool
    # isolates its neighbours, so every trial runs (and each one hangs that task)
    assert (mp.trials, mp.trials_hung, mp.trials_others_lost, mp.trials_isolated) == (3, 3, 0, 3)


def test_loky_isolates_an_exception_and_its_tracker_is_no_unclean_shutdown(table):
    # loky's resource tracker outlives the pool by design and exits once its clients are
    # gone: given its grace like multiprocessing's, it is not counted as killed
    cell = _cell(table, "loky", "exception")
    assert (cell.outcome, cell.error_seen, cell.killed) == ("isolated", "InjectedFault", 0)
    assert "unclean-shutdown" not in cell["flags"]


def test_dask_nanny_reports_killed_worker_and_recovers(table):
    dask = _cell(table, "dask-processes", "sigkill")
    assert dask.error_seen == "KilledWorker" and dask.faulty_outcome == "failed"
    assert dask.recovered and dask.caller_survived
    assert dask.outcome in ("isolated", "others-lost")
    # every trial isolates, or the first that lost a neighbour ended the cell
    assert dask.trials_others_lost == int(dask.trials < 3)
    assert dask.trials_isolated == dask.trials - dask.trials_others_lost
    assert dask.faulty_tasks == ",".join(map(str, exp.placements(2, 6, 20261125)[: dask.trials]))


def test_verdict_is_conditional_with_the_matrix(table):
    (v,) = faults_verdicts(table, "test machine")
    assert v.claim == "C6" and v.verdict == "conditional"
    assert "BrokenProcessPool" in v.evidence and "KilledWorker" in v.evidence
    assert "the whole program died in 1/1" in v.evidence
    assert "worst-case faulty run" in v.conditions and "test machine" in v.conditions


def test_verdict_without_process_pools_is_inconclusive(table):
    (v,) = faults_verdicts(table[table.backend == "threads"], "m")
    assert v.verdict == "inconclusive"


def test_matrix_plot_is_an_svg(table, tmp_path):
    (path,) = plots_of("faults", table, tmp_path, "test machine")
    assert path.name == "faults_matrix.svg"
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text


# --- interrupting a running job -----------------------------------------------------------


def _tagged(tag: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("CORESWEEP_TEST_TAG") == tag and p.status() != "zombie":
                out.append(p)
        except psutil.Error:
            continue
    return out


def _start_job(backend: str, out: Path, tag: str, tmp: Path) -> subprocess.Popen:
    config = _config(backends=[backend], task_seconds=30, timeout_seconds=600)
    config["protocol"]["capacity_wait_seconds"] = 0  # two jobs at once: do not wait for cores
    (point,) = exp.points(config, Node.here(2))
    tmp.mkdir()
    # stderr to a file, not a pipe: nobody reads a pipe until the job ends, and a full pipe
    # would block the job's logging (and so its exit)
    return subprocess.Popen(
        [sys.executable, "-m", "coresweep.cli", "measure", "--spec", point.to_json()]
        + ["--raw-dir", str(out.parent), "--record", str(out)],
        env={**os.environ, "CORESWEEP_TEST_TAG": tag, "TMPDIR": str(tmp)},
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
        stderr=out.with_suffix(".log").open("w"),
        text=True,
    )


def test_interrupted_measure_leaves_no_process(tmp_path):
    """Ctrl-C (SIGINT to the whole process group) during a Dask cell, and `kill` (SIGTERM to
    the job only) during a multiprocessing.Pool cell: both jobs stop with 130, nothing of
    either process tree survives, no result or temporary file is left."""
    cases = {  # tag -> backend, signal, whole group, processes to wait for
        uuid.uuid4().hex: ("dask-processes", signal.SIGINT, True, 4),
        uuid.uuid4().hex: ("processes-fork", signal.SIGTERM, False, 3),
    }
    jobs = {
        tag: _start_job(b, tmp_path / f"{b}.json", tag, tmp_path / f"tmp-{b}")
        for tag, (b, *_) in cases.items()
    }
    try:
        deadline = time.monotonic() + 90
        waiting = dict(cases)
        while waiting and time.monotonic() < deadline:
            for tag, (_, sig, group, min_procs) in list(waiting.items()):
                if len(_tagged(tag)) >= min_procs:  # mid-run: the pool is up
                    job = jobs[tag]
                    os.killpg(job.pid, sig) if group else job.send_signal(sig)
                    del waiting[tag]
            time.sleep(0.1)
        assert not waiting, f"never started their pools: {[c[0] for c in waiting.values()]}"
        for job in jobs.values():
            assert job.wait(30) == 130, Path(job.stderr.name).read_text()[-2000:]
        time.sleep(0.5)
        for tag, (backend, *_) in cases.items():
            assert _tagged(tag) == [], f"{backend}: processes survived"
            assert not (tmp_path / f"{backend}.json").exists()
            assert list((tmp_path / f"tmp-{backend}").iterdir()) == []  # no temporary files
    finally:
        for tag, job in jobs.items():
            for p in _tagged(tag):
                p.kill()
            job.kill()
            job.wait()
