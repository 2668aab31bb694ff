"""The subinterpreters backend: a working pool where Python has one (3.13+), a stated reason
where it has none (3.11), and kernels that cannot load there left out by their capability.

Run it under both: `pytest tests/test_subinterpreters.py` (3.11: unavailable) and
`/tmp/venv313/bin/python -m pytest tests/test_subinterpreters.py` (3.13: the pool works).
Every test asserts the outcome this interpreter must give, chosen by sys.version_info.

This module's top-level imports load in a subinterpreter (pytest and light coresweep
modules only), so its helper functions can be tasks there.
"""

from __future__ import annotations

import functools
import json
import logging
import platform
import subprocess
import sys
import threading
import time

import pytest

from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import BackendUnavailable
from coresweep.backends.subinterpreters import SubinterpretersBackend, engine, stdlib_private
from coresweep.kernels import get_kernel, make_tasks

NAME = next(n for n, b in BACKENDS.items() if b.descriptor.isolation == "interpreter")
#: the interpreters that have a pool: 3.13 (private _interpreters) and 3.14+ (the stdlib's)
AVAILABLE = sys.version_info >= (3, 13)
REASON = (
    "needs Python 3.13 or later (concurrent.futures.InterpreterPoolExecutor from 3.14, the "
    f"private _interpreters module on 3.13); this is CPython {platform.python_version()}"
)


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("task 3 failed")
    return x


def _sleep_then(x: int) -> int:
    time.sleep(0.3)
    return x


def test_the_registry_holds_it_with_its_descriptor():
    d = BACKENDS[NAME].descriptor
    assert BACKENDS[NAME] is SubinterpretersBackend
    assert (d.isolation, d.shares_memory, d.arguments, d.pickler) == (
        "interpreter",
        False,
        "pickled",
        "pickle",
    )
    assert (d.start_method, d.supervision, d.gil_bound, d.batch) == (
        "interpreter",
        "program-lost",
        False,
        False,
    )


def test_availability_follows_the_interpreter():
    if AVAILABLE:
        assert SubinterpretersBackend.unavailable() is None
        assert engine() == ("executor" if sys.version_info >= (3, 14) else "private")
    else:
        assert SubinterpretersBackend.unavailable() == REASON
        assert engine() is None
        with make_backend(NAME, 2) as b, pytest.raises(BackendUnavailable) as exc:
            b.start()
        assert str(exc.value) == f"subinterpreters: {REASON}"


def test_the_plan_keeps_it_only_where_it_runs_and_says_why(caplog):
    from coresweep.experiments.validation import backend_names

    with caplog.at_level(logging.WARNING, logger="coresweep"):
        names = backend_names(["threads", NAME], "experiments.scaling.backends")
    if AVAILABLE:
        assert names == ["threads", NAME] and not caplog.records
    else:
        assert names == ["threads"]
        assert caplog.messages == [
            f"config key experiments.scaling.backends: backend {NAME} not measured: {REASON}"
        ]


@pytest.mark.parametrize(
    ("version", "runs"), [((3, 12), False), ((3, 13), True), ((3, 14), True), ((3, 13, 0), True)]
)
def test_another_interpreter_is_judged_by_its_version(version, runs):
    reason = SubinterpretersBackend.unavailable(version)
    if runs:
        assert reason is None
    else:
        assert reason == REASON.replace(
            f"CPython {platform.python_version()}", "Python " + ".".join(map(str, version))
        )


def test_each_interpreter_of_a_plan_gets_the_subinterpreter_points_it_can_run(caplog):
    """interpreters: [current, 3.12, 3.13]: the pool is planned for the 3.13 points (and for
    the current interpreter where it is 3.13+), never for 3.12; the plan says why."""
    from coresweep import config as cfg
    from coresweep.experiments import plan
    from coresweep.measure.cores import Node

    config = _only("scaling", {"kernels": ["mc-python"], "backends": ["threads", NAME],
                               "kernel_modes": {}, "kernel_backends": {}})  # fmt: skip
    config = cfg.validate({**config, "interpreters": ["current", "3.12", "3.13"]})
    with caplog.at_level(logging.WARNING, logger="coresweep"):
        points = plan(config, Node.sized(2, 8.0))
    backends = {
        label: {
            p.params["backend"] for p in points if p.params.get("interpreter", "current") == label
        }
        for label in ("current", "3.12", "3.13")
    }
    assert backends == {
        "current": {"threads", NAME} if AVAILABLE else {"threads"},
        "3.12": {"threads"},
        "3.13": {"threads", NAME},
    }
    assert f"backend {NAME} not measured: needs Python 3.13 or later" in caplog.text
    assert "this is Python 3.12" in caplog.text


def test_a_kernel_that_does_not_declare_itself_safe_is_left_out_by_its_capability(caplog):
    from coresweep.kernels.user import isolation_problem, runs_on

    isolation = BACKENDS[NAME].descriptor.isolation
    pure, numpy_kernel = get_kernel("mc-python"), get_kernel("dgemm")
    assert (pure.subinterpreter_safe, numpy_kernel.subinterpreter_safe) == (True, False)
    assert isolation_problem(pure, isolation) is None
    assert isolation_problem(numpy_kernel, "thread") is None  # threads load NumPy fine
    with caplog.at_level(logging.WARNING, logger="coresweep"):
        assert runs_on(pure, "pickle", NAME, isolation)
        assert not runs_on(numpy_kernel, "pickle", NAME, isolation)
    assert caplog.messages == [
        "kernel dgemm: it does not declare subinterpreter_safe (NumPy, Numba and most C "
        "extensions refuse to load in a subinterpreter); not measured on subinterpreters"
    ]


def test_a_user_kernel_is_unsafe_unless_it_declares_otherwise():
    from coresweep.kernels.user import build_kernel

    spec = {"callable": "math:factorial", "args": [[5]]}
    assert not build_kernel("f", spec).subinterpreter_safe
    assert build_kernel("f", {**spec, "subinterpreter_safe": True}).subinterpreter_safe


def test_maps_mc_python_and_returns_exactly_the_serial_results():
    k = get_kernel("mc-python")
    tasks = make_tasks(500, 6, 11)
    expected = [k.run(t) for t in tasks]
    with make_backend(NAME, 2) as b:
        if not AVAILABLE:
            with pytest.raises(BackendUnavailable, match="needs Python 3.13"):
                b.start()
            return
        b.start()
        assert b.map(k.run, tasks) == expected
        assert b.map(k.run, tasks[:2]) == expected[:2]
        ids = b.worker_ids()
        assert len(set(ids)) == 2 and threading.get_native_id() not in ids


def test_submit_errors_and_init_in_every_worker():
    init = functools.partial(sys.setrecursionlimit, 1234)  # per interpreter since 3.12
    with make_backend(NAME, 2) as b:
        if not AVAILABLE:
            with pytest.raises(BackendUnavailable):
                b.start(init)
            return
        b.start(init)
        assert sys.getrecursionlimit() != 1234  # the caller's interpreter is untouched
        futures = [b.submit(pow, 2, k) for k in range(4)]
        assert [f.result(timeout=60) for f in futures] == [1, 2, 4, 8]
        limits = [f.result(timeout=60) for f in [b.submit(sys.getrecursionlimit) for _ in range(6)]]
        assert limits == [1234] * 6
        with pytest.raises(ValueError, match="task 3 failed"):
            b.submit(_fail_on_three, 3).result(timeout=60)
        assert b.map(_fail_on_three, [1, 2]) == [1, 2]  # the pool still serves


def test_an_init_that_raises_fails_start_with_its_own_error():
    init = functools.partial(int, "not a number")
    with make_backend(NAME, 2) as b:
        if not AVAILABLE:
            with pytest.raises(BackendUnavailable):
                b.start(init)
            return
        with pytest.raises(ValueError, match="invalid literal for int"):
            b.start(init)
    assert _interpreters_alive() == 1  # the context manager destroyed what had started


def test_numpy_refuses_to_load_in_a_worker():
    """Why the capability exists: a NumPy kernel's task fails in a subinterpreter."""
    k = get_kernel("dgemm")
    with make_backend(NAME, 1) as b:
        if not AVAILABLE:
            with pytest.raises(BackendUnavailable):
                b.start()
            return
        b.start()
        with pytest.raises(ImportError):
            b.map(k.run, k.make_tasks(8, 1, 1))
        assert b.submit(pow, 3, 2).result(timeout=60) == 9  # the pool serves on


def _interpreters_alive() -> int:
    return len(stdlib_private("_interpreters").list_all())


def test_ctrl_c_during_a_map_destroys_every_worker_interpreter():
    import _thread

    with make_backend(NAME, 2) as b:
        if not AVAILABLE:
            with pytest.raises(BackendUnavailable):
                b.start()
            return
        b.start()
        assert _interpreters_alive() == 3  # the main one and two workers
    # the interrupt comes while map waits, as a terminal's Ctrl-C would
    with pytest.raises(KeyboardInterrupt), make_backend(NAME, 2) as b:  # noqa: PT012
        b.start()
        threading.Timer(0.1, _thread.interrupt_main).start()
        b.map(_sleep_then, list(range(8)))
    assert _interpreters_alive() == 1


CRASH = """
import os, sys
from coresweep.backends import make_backend
with make_backend(sys.argv[1], 2) as b:
    b.start()
    b.submit(os._exit, 7).result(timeout=60)
print("survived")
"""


def test_a_worker_that_exits_ends_the_whole_process():
    """supervision "program-lost": os._exit in a subinterpreter ends the caller too."""
    r = subprocess.run(
        [sys.executable, "-c", CRASH, NAME], capture_output=True, text=True, timeout=120
    )
    if AVAILABLE:
        assert (r.returncode, r.stdout) == (7, "")
    else:
        assert r.returncode == 1 and "BackendUnavailable" in r.stderr


def _only(experiment: str, section: dict) -> dict:
    """A validated config that runs one experiment, with `section` as its settings."""
    from coresweep import config as cfg
    from coresweep.experiments import NAMES

    exps = {n: {"enabled": False} for n in NAMES}
    exps[experiment] = {"enabled": True, **section}
    return cfg.validate({"experiments": exps})


def _measure(points: list, raw: object) -> list[dict]:
    """The points measured by `coresweep measure` in this interpreter; their raw records."""
    from pathlib import Path

    spec = "[" + ", ".join(p.to_json() for p in points) + "]"
    cmd = [sys.executable, "-m", "coresweep.cli", "measure", "--spec", spec, "--raw-dir", str(raw)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(f.read_text()) for f in sorted(Path(raw).glob("*.json"))]


def test_memory_counts_every_worker_interpreter_inside_the_one_process(tmp_path, caplog):
    """C4 with subinterpreters: one process whatever N, each interpreter's own share, and a
    copied input once per worker (the pickled arguments are not kept alive beside it)."""
    from coresweep.experiments import get_experiment, plan
    from coresweep.measure.cores import Node

    config = _only("memory", {"backends": [NAME], "workers": [1, 2],
                              "oversubscribe_factors": [], "input_mib": 8})  # fmt: skip
    with caplog.at_level(logging.INFO):
        points = plan(config, Node.sized(2, 8.0))
    if not AVAILABLE:
        assert points == [] and REASON in caplog.text
        return
    assert [p.params["sharing"] for p in points] == [{NAME: ["none", "copied"]}]
    t = get_experiment("memory").aggregate(_measure(points, tmp_path / "raw"))
    assert set(t["nprocs"]) == {1}  # every worker is an interpreter of the job's process
    working = t[t["state"] == "working"]
    assert list(working["busy_workers"]) == list(working["workers"])
    idle = t[(t["state"] == "idle") & (t["workers"] == 2)].set_index("sharing")
    copies = idle.loc["copied", "pss_data_median_mib"] - idle.loc["none", "pss_data_median_mib"]
    assert 2 * 8 * 0.9 <= copies <= 2 * 8 * 1.5  # two private copies of 8 MiB, not four


def test_faults_an_exception_stays_the_tasks_and_an_exit_ends_the_whole_program(tmp_path, caplog):
    """C6 with subinterpreters: supervision "program-lost" as measured, not as declared."""
    from coresweep.experiments import get_experiment, plan
    from coresweep.measure.cores import Node

    config = _only("faults", {"backends": [NAME], "faults": ["exception", "exit"], "trials": 1,
                              "max_trials": 1, "timeout_seconds": 60})  # fmt: skip
    with caplog.at_level(logging.INFO):
        points = plan(config, Node.sized(2, 8.0))
    if not AVAILABLE:
        assert points == [] and REASON in caplog.text
        return
    t = get_experiment("faults").aggregate(_measure(points, tmp_path / "raw")).set_index("fault")
    assert t.loc["exception", ["outcome", "caller_survived", "others_lost"]].tolist() == [
        "isolated", True, 0,
    ]  # fmt: skip
    assert t.loc["exit", ["outcome", "trials_caller_died", "trials"]].tolist() == [
        "crashed", 1, 1,
    ]  # fmt: skip


def test_the_pool_tests_pass_on_a_313_interpreter_in_its_own_environment():
    """The working pool, tested from the default interpreter: this module run by pyenv's
    3.13 inside the uv environment coresweep builds for it (created once in .venvs/)."""
    from coresweep import interpreters

    if AVAILABLE:  # this interpreter runs the pool tests itself (above)
        assert engine() is not None
        return

    from wfhelpers import pyenv_python  # here: this module loads in subinterpreters

    exe = pyenv_python("13")
    if exe is None:  # no 3.13 here: the backend says why, and nothing else can run it
        assert SubinterpretersBackend.unavailable() == REASON
        return
    it = interpreters.parse(exe)
    py = it.env_dir / "bin" / "python"
    if not it.marker.exists():  # as the workflow's rule does: created once, then reused
        info = interpreters.create(it, interpreters.project_root())
        it.marker.write_text(json.dumps(info))
    # the environment holds coresweep and its dependencies; the test runner comes on top
    uv = [interpreters._uv(), "pip", "install", "--python", str(py), "pytest"]
    assert subprocess.run(uv, capture_output=True, text=True, timeout=300).returncode == 0
    r = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
        capture_output=True, text=True, timeout=600, cwd=str(interpreters.project_root()),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:]
    assert " passed" in r.stdout and "failed" not in r.stdout
