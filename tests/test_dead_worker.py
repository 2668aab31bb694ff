"""A worker that dies during a point fails that point within seconds; nothing is left behind.

Each case runs a two-point scaling job (a p = 2 point on the backend, then a serial point)
through `coresweep measure` (cli.main, in this process), SIGKILLs one worker from a thread
once the p = 2 pool has started, and reruns the same job: the serial point, measured after
the failure, is kept and the failed one measured.
A killed `coresweep measure` (the job itself, not a worker) leaves no worker either.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import psutil
import pytest

from coresweep import cli
from coresweep.backends import BACKENDS
from coresweep.backends.watch import (
    SampleTimeout,
    Watch,
    WorkerDied,
    bounded,
    current_bound,
    exit_cause,
)
from coresweep.measure import runner
from coresweep.measure.cleanup import is_interpreter_helper
from coresweep.records import Point, read_raw

KILLED = ["processes-fork", "processes-spawn", "process-pool", "loky", "dask-processes"]
PROTOCOL = {
    "warmup": 1,
    "repeats": 2,
    "max_repeats": 2,
    "min_sample_seconds": 0.01,
    "point_budget_seconds": 1,
    "capacity_wait_seconds": 0,
    "retries": 0,
}
SIZE = 300_000  # mc-python samples per task: a sample of 4 tasks takes a few tenths of a second


@pytest.fixture(autouse=True, scope="module")
def loky_tracker_started():
    """loky's resource tracker lives as long as this process: started first, it is never
    taken for a leftover of a killed pool."""
    from loky.backend.resource_tracker import ensure_running

    ensure_running()


def _point(backend: str, p: int, size: int = SIZE, protocol: dict | None = None) -> Point:
    params = {
        "kernel": "mc-python",
        "backend": backend,
        "p": p,
        "modes": {"strong": {"size": size, "ntasks": 2 * p}},
        "baseline": {"size": size, "ntasks": 1},
        "seed": 7,
        "protocol": protocol or PROTOCOL,
    }
    return Point("scaling", f"mc-python__{backend}__p{p}", params, job="j", seconds=3.0)


def _live_children() -> set[int]:
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and not is_interpreter_helper(p):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


class Killer:
    """SIGKILL one worker of the first `backend` pool started, `delay` s after its start."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, backend: str, delay: float) -> None:
        self.pid = 0
        self.pool_pids: list[int] = []
        self.killed_at = 0.0
        cls, start = BACKENDS[backend], BACKENDS[backend].start

        def start_then_arm(b, init=None):
            start(b, init)
            if not self.pool_pids:
                threading.Thread(target=self._kill, args=(b, delay), daemon=True).start()

        monkeypatch.setattr(cls, "start", start_then_arm)

    def _kill(self, backend, delay: float) -> None:
        self.pool_pids = backend.worker_ids()
        time.sleep(delay)
        self.pid = self.pool_pids[0]
        self.killed_at = time.monotonic()
        os.kill(self.pid, signal.SIGKILL)


def _failure_clock(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """When each point's failure was seen, and when its measurement ended (pool torn down)."""
    failed_at: list[tuple[float, float]] = []
    measure = runner.bounded_measure

    def timed(point: Point, fn):
        try:
            return measure(point, fn)
        except runner.PointFailed as exc:
            failed_at.append((exc.failure.seen, time.monotonic()))
            raise

    monkeypatch.setattr(runner, "bounded_measure", timed)
    return failed_at


def _measure_job(job: list[Point], raw: Path, record: Path) -> int:
    spec = json.dumps([asdict(p) for p in job])
    return cli.main(["measure", "--spec", spec, "--raw-dir", str(raw), "--record", str(record)])


@pytest.mark.parametrize("backend", KILLED)
def test_a_killed_worker_fails_its_point_within_seconds_and_a_rerun_measures_it(
    backend, tmp_path, monkeypatch
):
    before = _live_children()
    raw, record = tmp_path / "raw", tmp_path / "job.json"
    job = [_point(backend, 2), _point("serial", 1, size=20_000)]  # fails, then goes on
    killer = Killer(monkeypatch, backend, delay=0.3)
    failed_at = _failure_clock(monkeypatch)
    assert _measure_job(job, raw, record) == 1

    rec = json.loads(record.read_text())
    assert killer.pid in killer.pool_pids
    assert rec["failed"] == [job[0].id]
    error = rec["points"][0]["error"]
    assert f"{backend} worker pid {killer.pid} died of SIGKILL during point scaling/" in error
    seen, ended = (t - killer.killed_at for t in failed_at[0])
    print(
        f"\n{backend}: worker {killer.pid} killed; its death seen {seen:.2f} s later, "
        f"the point failed (pool torn down) {ended:.2f} s later"
    )
    assert 0 < seen <= ended < 30
    assert sorted(p.name for p in raw.iterdir()) == [f"{job[1].id}.json"]
    assert not psutil.wait_procs([psutil.Process(p) for p in _live_children() - before], 5)[1]
    assert not set(killer.pool_pids) & _live_children()

    monkeypatch.undo()  # the rerun of the same job: nobody kills a worker
    kept = (raw / f"{job[1].id}.json").stat().st_mtime_ns
    assert _measure_job(job, raw, record) == 0
    again = json.loads(record.read_text())
    assert again["failed"] == []
    assert [r["kept"] for r in again["points"]] == [False, True]
    assert (raw / f"{job[1].id}.json").stat().st_mtime_ns == kept
    result = read_raw(raw / f"{job[0].id}.json")["result"]
    assert result["backend"] == backend and result["modes"][0]["check_ok"]
    print(f"{backend}: rerun exit 0, kept {job[1].id}, measured {job[0].id}")
    assert _live_children() <= before


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pytest.mark.parametrize("name", ["processes-fork", "loky", "dask-processes"])
def test_a_hung_task_fails_at_the_bound_with_a_sample_timeout(name):
    before = _live_children()
    with bounded(0.5) as bound, BACKENDS[name](1) as b:
        b.start()
        t0 = time.monotonic()
        with pytest.raises(SampleTimeout, match=f"{name}: no result within 0.5 s"):
            b.map(_sleep, [30])
        assert time.monotonic() - t0 < 5
        with pytest.raises(SampleTimeout):  # a failed point's pool takes no more work
            b.map(_sleep, [0])
    assert [type(f) for f in bound.failures] == [SampleTimeout]
    assert not psutil.wait_procs([psutil.Process(p) for p in _live_children() - before], 5)[1]


def test_a_fork_pool_whose_idle_workers_were_killed_fails_and_shuts_down():
    """An idle worker waits for a task holding the task queue's lock: killed, it takes the
    lock with it, and Pool.terminate() alone would wait for that lock forever. Both idle
    workers are killed, so the holder is among them."""
    before = _live_children()
    t0 = time.monotonic()
    with bounded(30) as bound, BACKENDS["processes-fork"](2) as b:
        b.start()
        time.sleep(0.2)  # both idle, one holding the lock
        pids = b.worker_ids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerDied, match="processes-fork worker pid [0-9]+ died of SIGKILL"):
            b.map(_sleep, [0, 0])  # queued at once: stuck for good, the holder is dead
    assert time.monotonic() - t0 < 15
    assert [f.pid in pids for f in bound.failures] == [True]
    assert not psutil.wait_procs([psutil.Process(p) for p in _live_children() - before], 5)[1]


def _fail_on_one(x: int) -> int:
    if x == 1:
        raise ValueError("task 1 failed")
    return x


@pytest.mark.parametrize("name", ["processes-fork", "process-pool", "loky", "dask-threads"])
def test_a_bounded_map_returns_results_and_raises_a_tasks_own_error(name):
    with bounded(30) as bound, BACKENDS[name](2) as b:
        b.start()
        assert b.map(_sleep, [0, 0.1, 0]) == [0, 0.1, 0]
        assert b.submit(_sleep, 0.1).result(timeout=30) == 0.1
        with pytest.raises(ValueError, match="task 1 failed"):
            b.map(_fail_on_one, [0, 1])
        assert b.map(_sleep, [0]) == [0]  # the pool still serves: no worker died
    assert bound.failures == []


def test_the_bound_holds_only_in_the_process_that_set_it():
    """A forked child (a sacrificial fault run) keeps the pool's native behaviour."""
    with bounded(1.0):
        assert current_bound() is not None
        pid = os.fork()
        if pid == 0:
            os._exit(0 if current_bound() is None else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert current_bound() is None


def test_without_a_bound_no_watch_runs():
    with BACKENDS["processes-fork"](1) as b:
        b.start()
        assert b._watch is None and b.map(_sleep, [0]) == [0]


@pytest.mark.parametrize(
    ("code", "text"),
    [(-9, "died of SIGKILL"), (-11, "died of SIGSEGV"), (3, "exited with code 3")],
)
def test_exit_causes_name_the_signal_or_the_code(code, text):
    assert exit_cause(code) == text
    assert str(WorkerDied("loky", 42, code)) == f"loky worker pid 42 {text}"


class _Child:
    """A subprocess as a watch sees a worker without a sentinel (Dask's): polled."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        self.pid = self.proc.pid

    @property
    def exitcode(self) -> int | None:
        return self.proc.poll()


@pytest.mark.parametrize("stopped", [False, True])
def test_a_watch_names_a_killed_worker_unless_it_was_stopped_first(stopped):
    child = _Child()
    with bounded(60) as bound:
        watch = Watch("demo", [child], bound)
        if stopped:
            watch.stop()
        os.kill(child.pid, signal.SIGKILL)
        child.proc.wait()
        time.sleep(0.5)  # five looks at the exit code
        watch.stop()
    if stopped:
        assert watch.failure is None and bound.failures == []
    else:
        assert str(watch.failure) == f"demo worker pid {child.pid} died of SIGKILL"
        assert bound.failures == [watch.failure]


JOB_KILLED = ["processes-fork", "loky", "dask-processes"]


@pytest.mark.parametrize("backend", JOB_KILLED)
def test_a_killed_measuring_job_leaves_no_worker(backend, tmp_path):
    """SIGKILL of `coresweep measure` itself: its workers die with it."""
    long = {**PROTOCOL, "repeats": 200, "max_repeats": 200, "point_budget_seconds": 120}
    point = _point(backend, 2, protocol=long)
    proc = subprocess.Popen(
        [sys.executable, "-m", "coresweep.cli", "measure", "--spec", point.to_json()]
        + ["--raw-dir", str(tmp_path)],
        stderr=subprocess.DEVNULL,
    )
    job = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = [p for p in job.children(recursive=True) if not is_interpreter_helper(p)]
    assert len(workers) >= 2, "workers never started"
    time.sleep(1.0)  # measuring now
    everything = job.children(recursive=True)
    proc.kill()
    proc.wait()
    _, alive = psutil.wait_procs(everything, timeout=15)
    left = [p.pid for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:
        p.kill()
    assert not left, f"{backend}: left behind after the job was killed: {left}"
