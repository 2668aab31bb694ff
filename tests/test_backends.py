"""Backends: start, map in order, shut down, identical results, no leftover children."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import chain_init
from coresweep.kernels import get_kernel, make_tasks
from coresweep.measure.guard import inner_pools, limit_inner_pools

# dask-cluster needs an external scheduler: tests/test_dask_cluster.py starts one
PER_ITEM = sorted(n for n, b in BACKENDS.items() if not b.batch and n != "dask-cluster")


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("task 3 failed")
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


@pytest.mark.parametrize("name", ["threads", "processes-fork", "processes-spawn", "dask-processes"])
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


@pytest.mark.parametrize("name", ["threads", "processes-spawn", "dask-processes"])
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


def test_interrupted_measure_leaves_no_child_process(tmp_path):
    """SIGINT during a measurement: the command exits and every worker it started is gone."""
    from coresweep.records import Point

    point = Point(
        "scaling",
        "mc-python__processes-spawn__p2",
        {
            "kernel": "mc-python",
            "backend": "processes-spawn",
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


@pytest.mark.parametrize("name", ["serial", "threads", "processes-fork"])
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
