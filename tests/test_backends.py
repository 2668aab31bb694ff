"""Backends: start, map in order, submit, shut down, identical results, no leftover children."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, wait

import psutil
import pytest

from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import chain_init
from coresweep.kernels import get_kernel, make_tasks
from coresweep.measure.inner_pools import inner_pools, limit_inner_pools

# a cluster needs an external scheduler: tests/test_dask_cluster.py starts one; a
# subinterpreter imports a task's module afresh, and this one imports psutil and pytest,
# which refuse to load there: tests/test_subinterpreters.py runs those (where available)
PER_ITEM = sorted(
    # b.batch is a property of instances: on the class it is always truthy
    n
    for n, b in BACKENDS.items()
    if not b.descriptor.batch and b.descriptor.isolation not in ("cluster", "interpreter")
)
BATCH = sorted(n for n, b in BACKENDS.items() if b.descriptor.batch)
INIT_MARK = "CORESWEEP_TEST_INIT"


@pytest.fixture(autouse=True, scope="module")
def loky_tracker_started():
    """loky's resource tracker, like multiprocessing's, lives as long as this process: start it
    before a leftover check lists the children, so it is never taken for a leftover worker
    (coresweep.measure.cleanup.INTERPRETER_HELPERS does not name it)."""
    from loky.backend.resource_tracker import ensure_running

    ensure_running()


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("task 3 failed")
    return x


def _mark_init() -> None:
    os.environ[INIT_MARK] = str(os.getpid())


def _init_mark(_: object) -> tuple[int, str | None]:
    time.sleep(0.2)  # long enough that every idle worker takes one of the tasks
    return os.getpid(), os.environ.get(INIT_MARK)


def _raise_in_init() -> None:
    raise RuntimeError("init failed on purpose")


def _exit_on_one(x: int) -> int:
    if x == 1:
        os._exit(3)
    time.sleep(5)  # still running on the other worker when the first one dies
    return x


@pytest.mark.parametrize("name", PER_ITEM)
def test_backend_gives_bit_identical_results_to_serial(name, no_leftover_children):
    k = get_kernel("mc-python")
    tasks = make_tasks(500, 6, 11)
    expected = [k.run(t) for t in tasks]
    p = 1 if name == "serial" else 2
    with make_backend(name, p) as b:
        b.start()
        assert b.map(k.run, tasks) == expected
        assert b.map(k.run, tasks[:2]) == expected[:2]


@pytest.mark.parametrize(
    "name", ["threads", "processes-fork", "processes-spawn", "loky", "dask-processes"]
)
def test_backend_cleans_up_when_work_raises(name, no_leftover_children):
    with make_backend(name, 2) as b, pytest.raises(ValueError, match="task 3"):
        b.start()
        b.map(_fail_on_three, list(range(6)))


def test_numba_parallel_runs_the_batch_with_p_threads():
    k = get_kernel("mc-numba")
    tasks = make_tasks(1000, 4, 3)
    k.compile_parallel()
    with make_backend("numba-parallel", 2) as b:
        b.start(functools.partial(limit_inner_pools, 2))
        assert b.map(k.run_parallel, tasks) == [k.run(t) for t in tasks]
        assert inner_pools(b)[0]["numba_threads"] == 2


@pytest.mark.parametrize("name", ["threads", "processes-spawn", "loky", "dask-processes"])
def test_init_runs_in_every_worker_and_limits_inner_pools(name, no_leftover_children):
    with make_backend(name, 2) as b:
        b.start(chain_init(functools.partial(limit_inner_pools, 1)))
        pools = inner_pools(b)
    assert pools
    for info in pools:
        assert all(n == 1 for n in info["blas_threads"])
        if name != "dask-processes":  # Dask runs init outside its task threads (per-thread)
            assert info["numba_threads"] == 1


def test_serial_refuses_more_than_one_worker():
    with pytest.raises(ValueError, match="exactly 1"):
        make_backend("serial", 2)


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(KeyError, match="known: .*threads"):
        make_backend("gpu", 2)


def _ctrl_c_reaches_the_job() -> None:
    """As in a terminal: a job started from a background shell (`pytest &`) would inherit
    SIGINT ignored, and Python then never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("backend", ["processes-spawn", "loky"])
def test_interrupted_measure_leaves_no_child_process(tmp_path, backend):
    """SIGINT during a measurement: the command exits and every worker it started is gone."""
    from coresweep.records import Point

    point = Point(
        "scaling",
        f"mc-python__{backend}__p2",
        {
            "kernel": "mc-python",
            "backend": backend,
            "p": 2,
            "seed": 1,
            "modes": {"strong": {"size": 200000, "ntasks": 8}},
            "baseline": {"size": 200000, "ntasks": 4},
            "protocol": {"repeats": 50, "max_repeats": 50, "point_budget_seconds": 60},
        },
    )
    out = tmp_path / "raw" / f"{point.id}.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coresweep.cli",
            "measure",
            "--spec",
            point.to_json(),
            "--raw-dir",
            str(out.parent),
        ],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_reaches_the_job,
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    kids: list[psutil.Process] = []
    while time.monotonic() < deadline and len(kids) < 2:
        time.sleep(0.2)
        kids = parent.children(recursive=True)
    assert len(kids) >= 2, "workers never started"
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    gone, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive, f"left behind: {[p.pid for p in alive]}"
    assert not out.exists()


@pytest.mark.parametrize("name", ["serial", "threads", "processes-fork", "loky"])
def test_pin_puts_each_worker_on_its_own_cpu(name, no_leftover_children):
    cpus = sorted(os.sched_getaffinity(0))
    p = 1 if name == "serial" else min(2, len(cpus))
    with make_backend(name, p) as b:
        b.start()
        pinned = b.pin(cpus)
        assert sorted(pinned.values()) == cpus[:p]
        for wid, cpu in pinned.items():
            assert os.sched_getaffinity(wid) == {cpu}
    os.sched_setaffinity(0, cpus)  # serial pins the calling thread: undo it


# ---------------------------------------------------------------- submit: one task, a Future


@pytest.mark.parametrize("name", PER_ITEM)
def test_submit_runs_one_task_and_returns_a_concurrent_future(name, no_leftover_children):
    p = 1 if name == "serial" else 2
    with make_backend(name, p) as b:
        b.start()
        futures = [b.submit(pow, 2, k) for k in range(4)]
        assert all(isinstance(f, Future) for f in futures)
        _, pending = wait(futures, timeout=60)  # concurrent.futures tools work on them
        assert not pending and [f.result() for f in futures] == [1, 2, 4, 8]
        with pytest.raises(ValueError, match="task 3 failed"):
            b.submit(_fail_on_three, 3).result(timeout=60)
        assert b.map(_fail_on_three, [1, 2]) == [1, 2]  # the pool still serves a map


@pytest.mark.parametrize("name", BATCH)
def test_batch_backend_refuses_submit_and_says_why(name):
    with make_backend(name, 1) as b, pytest.raises(NotImplementedError, match="no single-task"):
        b.submit(pow, 2, 3)


def test_dask_cluster_submit_returns_a_concurrent_future(no_leftover_children):
    from distributed import LocalCluster

    from coresweep.backends.dask_cluster import DaskClusterBackend

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        DaskClusterBackend(1, address=cluster.scheduler_address) as b,
    ):
        b.start()
        f = b.submit(pow, 2, 5)
        assert isinstance(f, Future) and f.result(timeout=60) == 32
        with pytest.raises(ValueError, match="task 3 failed"):
            b.submit(_fail_on_three, 3).result(timeout=60)


# ---------------------------------------------------------------- loky


def test_loky_runs_init_once_in_every_worker_before_start_returns(no_leftover_children):
    with make_backend("loky", 2) as b:
        b.start(_mark_init)
        ids = b.worker_ids()
        assert len(ids) == 2
        # each worker marked itself with its own pid, in its init, before any task
        assert dict(b.map(_init_mark, range(6))) == {pid: str(pid) for pid in ids}


def test_loky_gives_each_backend_its_own_fresh_workers(no_leftover_children):
    with make_backend("loky", 2) as b:
        b.start()
        first = set(b.worker_ids())
    with make_backend("loky", 1) as b:
        b.start()
        assert len(b.worker_ids()) == 1 and first.isdisjoint(b.worker_ids())


def test_loky_refuses_a_second_live_backend_in_one_thread(no_leftover_children):
    with make_backend("loky", 1) as a, make_backend("loky", 1) as b:
        a.start()
        with pytest.raises(RuntimeError, match="another loky backend is running in this thread"):
            b.start()
        assert a.map(abs, [-1]) == [1]  # the first one was left alone


def test_loky_init_that_raises_fails_start_and_leaves_no_worker(no_leftover_children):
    with make_backend("loky", 2) as b:
        with pytest.raises(RuntimeError, match="a worker died while starting"):
            b.start(_raise_in_init)
        assert b.worker_ids() == []


def test_loky_dead_worker_fails_pending_tasks_and_next_map_gets_fresh_workers(
    no_leftover_children,
):
    from loky.process_executor import TerminatedWorkerError

    assert BACKENDS["loky"].descriptor.supervision == "pool-restarted"
    with make_backend("loky", 2) as b:
        b.start(_mark_init)
        before = set(b.worker_ids())
        futures = [b.submit(_exit_on_one, x) for x in (0, 1)]
        for f in futures:  # the task on the healthy worker is lost too: loky kills them all
            with pytest.raises(TerminatedWorkerError, match="EXIT\\(3\\)"):
                f.result(timeout=60)
        after = dict(b.map(_init_mark, range(4)))  # a fresh executor, init run again
        assert set(after) == set(b.worker_ids()) and before.isdisjoint(after)
        assert all(mark == str(pid) for pid, mark in after.items())


def _pid(_: object) -> int:
    return os.getpid()


def _die(_: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("name", ["processes-fork", "processes-spawn"])
def test_a_pool_worker_that_dies_is_replaced_by_one_that_serves(name, no_leftover_children):
    """multiprocessing.Pool starts a new worker for a dead one; it must take tasks, not wait
    at the start barrier that only the first workers meet at. The worker dies in a task (an
    idle worker killed from outside may hold the pool's queue lock and freeze every worker)."""
    with make_backend(name, 2) as b:
        b.start()
        first = set(b.worker_ids())
        b.submit(_die, 0)  # its task is lost (worker-replaced-task-lost)
        deadline = time.monotonic() + 30
        while set(b.worker_ids()) == first or len(b.worker_ids()) < 2:
            assert time.monotonic() < deadline, "no replacement worker"
            time.sleep(0.05)
        fresh = set(b.worker_ids()) - first
        served: set[int] = set()
        while not served & fresh:
            assert time.monotonic() < deadline, f"replacement {fresh} never ran a task"
            served |= set(b.map(_pid, range(8)))
