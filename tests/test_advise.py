"""`coresweep advise` and user kernels: each recommendation path, each error, config wiring.

The recommendation rule is tested on rows built from fixed samples (through the real
summary code), so no assertion rests on how fast this shared machine happens to be; the
real sweeps run with tiny budgets and assert what was measured, skipped or reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import userfuncs

from coresweep import config as cfg
from coresweep.advice_records import Advice, Estimate, Row
from coresweep.advise import advise, context_notes
from coresweep.analysis.advice import batch_advice, gil_verdict, recommend
from coresweep.analysis.verdicts import THRESHOLD
from coresweep.backends import BACKENDS
from coresweep.cli import main
from coresweep.config import ConfigError
from coresweep.experiments import scaling
from coresweep.experiments.advise import (
    DEFAULT_BACKENDS,
    AdviseError,
    Options,
    _summarise,
    new_row,
    skip_reasons,
    start_guess_s,
)
from coresweep.kernels import get_kernel
from coresweep.kernels.user import (
    UserKernelError,
    make_user_tasks,
    parse_spec,
    resolve,
    runs_on,
)
from coresweep.measure.cores import Node
from coresweep.measure.sampling import ArmSamples
from coresweep.records import Point
from coresweep.report.advice import format_advice

HERE = str(Path(__file__).resolve().parent)
TINY = dict(cores=(2,), budget_seconds=60.0, max_repeats=3, seed=3)


def spec(callable_: str, **kw) -> object:
    raw = {"callable": f"userfuncs:{callable_}", "path": [HERE], **kw}
    if "tasks" not in raw and "args" not in raw:
        raw["args"] = [[3], [4], [5], [6]]
    return parse_spec("test", raw)


@pytest.fixture
def parent_pid(monkeypatch):
    """Tell userfuncs which process is the parent (workers inherit the variable)."""
    monkeypatch.setenv(userfuncs.PARENT_ENV, str(os.getpid()))


# ---------------------------------------------------------------- the rule, on fixed rows

SERIAL = [1.00, 1.01, 0.99, 1.02, 0.98]


def row(backend, p, work, batched=None, dispatch_s=1e-5, start_s=0.01, mib=1.0, status="ok"):
    """A Row summarised from fixed samples: serial pass 1 s, work and batched as given (s)."""
    samples = {
        "serial": ArmSamples(wall=SERIAL),
        "work": ArmSamples(wall=[work * f for f in (1.0, 1.01, 0.99, 1.02, 0.98)]),
        "dispatch": ArmSamples(wall=[dispatch_s * 100] * 5),
    }
    if batched is not None:
        samples["batched"] = ArmSamples(wall=[batched * f for f in (1.0, 1.01, 0.99, 1.02)])
    r = new_row(backend, p, status=status, start_s=start_s, extra_mib=mib, batch_size=50)
    _summarise(r, samples, ntasks=100)
    return r


def test_nogil_function_gets_threads_with_the_thread_speedup_as_reason():
    rows = [row("threads", 2, 0.51), row("processes-fork", 2, 0.52, start_s=0.3, mib=40)]
    rec = recommend(rows, task_s=0.01)
    assert rec.backend == "threads" and rec.batch_size == 0
    assert "releases the GIL" in rec.reason and "2 threads (threads) ran 1.96×" in rec.reason
    assert "processes were no faster (processes-fork 1.92×" in rec.reason


def test_gil_bound_function_gets_processes_and_the_thread_figure_why():
    rows = [row("threads", 2, 1.0), row("processes-spawn", 2, 0.53, start_s=0.4)]
    rec = recommend(rows, task_s=0.01)
    assert rec.backend == "processes-spawn" and rec.headline == "processes-spawn"
    assert "holds the GIL (2 threads ran 1.00×" in rec.reason
    assert "2 processes (processes-spawn) ran 1.89×" in rec.reason
    assert "the pool starts in 400 ms" in rec.reason


def test_tiny_tasks_get_processes_in_batches_sized_from_dispatch_cost():
    rows = [
        row("threads", 2, 1.0, batched=1.0),
        row("processes-fork", 2, 1.4, batched=0.55, dispatch_s=3e-4),
    ]
    rec = recommend(rows, task_s=8e-4)
    assert rec.backend == "processes-fork"
    assert rec.batch_size == batch_advice(8e-4, 3e-4) == 4  # 9 x 0.3 ms / 0.8 ms -> 4
    assert rec.headline == "processes-fork, in batches of ≥ 4 tasks"
    assert "each task takes 800 µs and processes-fork dispatch costs 300 µs" in rec.reason
    assert "one task at a time ran 0.71×" in rec.reason


def test_within_processes_the_fastest_wins_over_a_cheaper_start():
    rows = [
        row("threads", 2, 1.0),
        row("processes-spawn", 2, 0.51, start_s=0.41),
        row("processes-forkserver", 2, 0.6, start_s=0.40),
    ]
    rows[2].speedup = Estimate(1.67, 1.41, 1.99)  # wide: overlaps spawn's interval
    assert recommend(rows, task_s=0.01).backend == "processes-spawn"


def test_gil_is_judged_against_one_thread_when_one_worker_was_faster_than_the_loop():
    rows = [row("threads", 1, 0.8), row("threads", 2, 0.41)]  # main-thread loop is slow
    text = gil_verdict(rows, None)
    assert "releases the GIL (2 threads ran 1.95×" in text and "against 1 thread" in text
    (note,) = context_notes(rows, THRESHOLD)
    assert note.startswith("threads with 1 worker ran 1.25×") and "glibc malloc" in note


def test_nothing_faster_than_a_plain_loop_gets_serial():
    rows = [row("threads", 2, 1.02, batched=1.0), row("processes-fork", 2, 1.6, batched=0.99)]
    rec = recommend(rows, task_s=1e-5)
    assert rec.backend == "serial"
    assert "nothing ran significantly faster than a plain loop on 2 cores" in rec.reason
    assert recommend([row("threads", 1, 1.0)], 1e-3).reason.startswith("only 1 core")


def test_a_backend_that_failed_its_check_is_never_recommended():
    rows = [row("threads", 2, 1.0), row("processes-fork", 2, 0.5, status="check-failed")]
    assert recommend(rows, task_s=0.01).backend == "serial"


def test_gil_verdict_reports_disagreement_with_the_users_note():
    text = gil_verdict([row("threads", 2, 1.0)], note=True)
    assert "holds the GIL" in text and "you noted releases_gil: true, the runs disagree" in text
    assert "releases the GIL only in part" in gil_verdict([row("threads", 2, 0.75)], None)


# ---------------------------------------------------------------- real sweeps, tiny budgets


def test_sweep_measures_every_backend_and_keeps_results_as_json(no_leftover_children, tmp_path):
    s = spec("nap", tasks="userfuncs:nap_tasks", check="userfuncs:check_naps")
    seen: list[int] = []
    opts = Options((1, 2), ("threads", "processes-fork"), ntasks=8, max_repeats=3, seed=1)
    adv = advise(s, opts, on_update=lambda a: seen.append(len(a.rows)))
    by = {(r.backend, r.p): r for r in adv.rows}
    assert set(by) == {
        ("serial", 1),
        ("threads", 1),
        ("threads", 2),
        ("processes-fork", 1),
        ("processes-fork", 2),
    }
    measured = [r for r in adv.rows if r.status == "ok" and r.backend != "serial"]
    assert measured, format_advice(adv)
    for r in measured:
        assert r.speedup.lo <= r.speedup.value <= r.speedup.hi
        assert r.same_as_serial and "passed" in r.check and r.start_s > 0
    assert seen == sorted(seen) and seen[-1] == len(adv.rows)  # reported row by row
    assert adv.recommendation is not None and adv.recommendation.backend in {b for b, _ in by}
    text = json.dumps(adv.to_dict())  # JSON-able as is
    assert "recommendation" in json.loads(text)
    assert "p = 2" in format_advice(adv) and "recommendation:" in format_advice(adv)


def test_lambda_skips_multiprocessing_backends_and_still_measures_threads(no_leftover_children):
    s = spec("tripled_lambda")
    opts = Options(backends=("threads", "processes-fork", "processes-spawn"), **TINY)
    adv = advise(s, opts)
    by = {r.backend: r for r in adv.rows}
    for b in ("processes-fork", "processes-spawn"):
        assert by[b].status == "skipped"
        assert "cannot be pickled by pickle (a lambda or a closure?)" in by[b].reason
        assert f"so {b} cannot send it" in by[b].reason
    assert by["threads"].status == "ok" and by["threads"].speedup is not None
    assert any("processes-fork not measured" in n for n in adv.notes)


def test_closure_runs_on_backends_that_pickle_by_value():
    backends = ["threads", "processes-forkserver", "dask-processes", "loky"]
    problems = skip_reasons(spec("scaled_closure"), [(3,)], backends)
    assert list(problems) == ["processes-forkserver"]  # pickle; the others cloudpickle or none
    assert (
        "Can't pickle local object 'make_scaled.<locals>.scaled'"
        in problems["processes-forkserver"]
    )


def test_user_kernel_runs_on_a_backend_by_its_descriptors_pickler(caplog):
    kernel = get_kernel("mine", {"mine": spec("scaled_closure")})
    assert runs_on(kernel, "cloudpickle", "loky") and runs_on(kernel, "none", "threads")
    assert not runs_on(kernel, "pickle", "processes-spawn")
    assert "cannot be pickled by pickle" in caplog.text and "not measured on processes-spawn" in (
        caplog.text
    )
    assert runs_on(get_kernel("mc-python"), "pickle", "processes-spawn")  # built-ins always ship


def test_advise_measures_every_registered_per_task_backend_on_this_machine_by_default():
    expected = {
        n
        for n, b in BACKENDS.items()
        if b.descriptor.isolation in ("thread", "interpreter", "process")
        and not b.descriptor.batch
        and b.unavailable() is None  # subinterpreters: 3.13+
    }
    assert set(DEFAULT_BACKENDS) == expected and "loky" in DEFAULT_BACKENDS
    assert {"serial", "numba-parallel", "dask-cluster"}.isdisjoint(DEFAULT_BACKENDS)
    # start-up guesses come from the one cost model: spawn-like pools cost more than fork,
    # fork more than threads; 2 workers of spawn: 2 x 0.05 + one import wave 0.4 + stop 0.15
    assert start_guess_s("processes-spawn", 2) == pytest.approx(0.65)
    assert start_guess_s("threads", 2) < start_guess_s("processes-fork", 2) < 0.1
    assert start_guess_s("processes-fork", 2) < start_guess_s("loky", 2)
    assert start_guess_s("gpu", 2) == 0.0


def test_rule_reads_only_the_descriptor_columns_a_row_carries():
    """A backend the rule has never heard of, described as GIL-bound threads, shows the GIL."""
    threads = BACKENDS["threads"].descriptor.columns()
    rows = [row("threads", 2, 1.0), row("processes-spawn", 2, 0.53)]
    rows[0].backend, rows[0].descriptor = "my-threads", dict(threads)
    assert "holds the GIL (2 threads ran 1.00×" in gil_verdict(rows, None)
    bare = Row("mystery", 2, speedup=Estimate(2.0, 1.9, 2.1))
    with pytest.raises(ValueError, match="row mystery p=2 carries no descriptor column"):
        recommend([bare], task_s=0.01)


def test_result_failing_its_check_is_reported_and_other_backends_still_count(
    no_leftover_children, parent_pid
):
    s = spec("double_in_parent_only", check="userfuncs:check_doubled")
    adv = advise(s, Options(backends=("processes-fork", "threads"), **TINY))
    by = {r.backend: r for r in adv.rows}
    assert by["processes-fork"].status == "check-failed"
    assert "results fail the reference check" in by["processes-fork"].reason
    assert by["processes-fork"].speedup is not None  # its timings are kept, marked
    assert by["threads"].status == "ok" and by["serial"].status == "ok"
    assert any(p.startswith("processes-fork p=2: results fail") for p in adv.problems)
    assert adv.recommendation.backend != "processes-fork"


def test_function_raising_in_workers_fails_that_backend_only(no_leftover_children, parent_pid):
    s = spec("fails_in_workers")
    adv = advise(s, Options(backends=("processes-fork", "threads"), **TINY))
    by = {r.backend: r for r in adv.rows}
    assert by["processes-fork"].status == "failed"
    assert "OSError: scratch directory not writable in this worker" in by["processes-fork"].reason
    assert by["threads"].status == "ok"


def test_task_factory_that_raises_names_the_factory_and_its_error():
    with pytest.raises(
        UserKernelError,
        match=r"task factory 'userfuncs:broken_factory' raised "
        r"RuntimeError: no input files found",
    ):
        advise(spec("spin", tasks="userfuncs:broken_factory"), Options(**TINY))


def test_uncallable_imports_name_the_module_or_attribute():
    with pytest.raises(
        UserKernelError,
        match=r"importing module 'userfuncs_nowhere' raised "
        r"ModuleNotFoundError",
    ):
        resolve("userfuncs_nowhere:f", (HERE,))
    with pytest.raises(UserKernelError, match=r"module 'userfuncs' has no attribute 'nope'"):
        resolve("userfuncs:nope", (HERE,))
    with pytest.raises(UserKernelError, match=r"expected 'package.module:function'"):
        parse_spec("x", {"callable": "userfuncs.spin", "args": [[1]]})
    with pytest.raises(UserKernelError, match="exactly one of 'tasks'"):
        parse_spec("x", {"callable": "userfuncs:spin"})


def test_function_raising_in_the_plain_loop_names_the_task():
    with pytest.raises(AdviseError, match=r"raised OSError.*first task"):
        advise(spec("fails_in_workers"), Options(**TINY))  # no parent pid set: raises here


# ---------------------------------------------------------------- task factories

FORMS = (
    "expected factory() -> a list of argument tuples, factory(ntasks) or factory(ntasks, seed)"
    " -> ntasks argument tuples (each may take a size= keyword too)"
)


def test_factory_of_no_parameters_is_a_fixed_list_used_as_given_or_cycled_like_args():
    s = spec("spin", tasks="userfuncs:spin_list")
    six = userfuncs.spin_list()
    assert make_user_tasks(s, None, seed=1) == six  # nothing asks for a count: as given
    assert make_user_tasks(s, 8, seed=1) == six + six[:2]  # asked: cycled, as args are
    assert make_user_tasks(s, 2, seed=1) == six[:2]
    sized = spec("spin", tasks="userfuncs:spin_list_sized", size=7)  # size= still given
    assert make_user_tasks(sized, 3, seed=1) == [(7,), (8,), (7,)]


def test_factory_of_ntasks_only_is_called_with_ntasks():
    assert make_user_tasks(spec("spin", tasks="userfuncs:spin_count"), 3, seed=9) == [
        (1000,),
        (1001,),
        (1002,),
    ]
    assert make_user_tasks(spec("spin", tasks="userfuncs:spin_tasks"), 2, seed=9) == [(2002,)] * 2


def test_advise_measures_a_factory_of_no_parameters_on_its_own_list(no_leftover_children):
    adv = advise(spec("spin", tasks="userfuncs:spin_list"), Options(backends=("threads",), **TINY))
    assert adv.ntasks == 6 and adv.tasks_from == "userfuncs:spin_list"
    assert {r.backend: r.status for r in adv.rows} == {"serial": "ok", "threads": "ok"}
    adv = advise(
        spec("spin", tasks="userfuncs:spin_list"),
        Options(backends=("threads",), ntasks=8, **TINY),
    )
    assert adv.ntasks == 8  # --ntasks: the list cycled


@pytest.mark.parametrize(
    "factory, says",
    [
        ("three_params", "takes (ntasks, seed, scale): 3 required positional parameter(s); "),
        ("keyword_only", "takes (ntasks, *, mode): 1 required positional parameter(s) and "
                         "required keyword(s) mode; "),
        ("NOT_A_FACTORY", "is a list, not a callable; "),
    ],
)  # fmt: skip
def test_factory_of_another_shape_is_named_with_the_accepted_forms(factory, says):
    expected = f"user kernel 'test': task factory 'userfuncs:{factory}' {says}{FORMS}"
    with pytest.raises(UserKernelError) as err:
        advise(spec("spin", tasks=f"userfuncs:{factory}"), Options(**TINY))
    assert str(err.value) == expected
    with pytest.raises(ConfigError) as err:  # a config fails when it is planned, not measured
        scaling.points(user_config(tasks=f"userfuncs:{factory}"), Node.here(2))
    assert str(err.value).endswith(
        f"task factory 'userfuncs:{factory}' {says}{FORMS}"
    ) and "user_kernels.mine" in str(err.value)


@pytest.mark.parametrize(
    "factory, says",
    [
        ("returns_none", "returned None, expected a list of argument tuples, e.g. [(1, 2), (3, 4)]"),
        ("returns_text", "returned a str '1,2,3', expected a list of argument tuples, "
                         "e.g. [(1, 2), (3, 4)]"),
        ("returns_empty", "returned no tasks, expected a list of argument tuples"),
        ("broken_list", "raised FileNotFoundError: tasks.csv (called as factory())"),
        ("broken_factory", "raised RuntimeError: no input files found (called as factory(1, 3))"),
    ],
)  # fmt: skip
def test_factory_returning_no_task_list_or_raising_is_named_with_what_was_expected(factory, says):
    with pytest.raises(UserKernelError) as err:
        advise(spec("spin", tasks=f"userfuncs:{factory}"), Options(**TINY))
    assert str(err.value) == f"user kernel 'test': task factory 'userfuncs:{factory}' {says}"


def test_advise_command_with_a_bad_factory_exits_2_and_keeps_the_error_in_json(tmp_path, capsys):
    out = tmp_path / "advice.json"
    argv = ["advise", "userfuncs:spin", "--tasks", "userfuncs:three_params", "--path", HERE,
            "--json", str(out)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "task factory 'userfuncs:three_params' takes (ntasks, seed, scale)" in err
    assert FORMS in err
    saved = json.loads(out.read_text())
    assert saved["callable"] == "userfuncs:spin" and FORMS in saved["error"]


def test_factory_whose_tasks_pickle_refuses_still_gets_threads_measured(tmp_path, capsys):
    out = tmp_path / "advice.json"
    argv = ["advise", "userfuncs:apply", "--tasks", "userfuncs:lambda_tasks", "--path", HERE,
            "--cores", "2", "--backends", "processes-fork,threads", "--budget-seconds", "20",
            "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    rows = {r["backend"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["processes-fork"]["status"] == "skipped"
    assert rows["processes-fork"]["reason"].startswith(
        "the task arguments cannot be pickled by pickle: PicklingError"
    )
    assert rows["threads"]["status"] == "ok" and rows["serial"]["status"] == "ok"
    assert "recommendation:" in capsys.readouterr().out


# ---------------------------------------------------------------- the command


def test_advise_command_prints_table_and_writes_json(tmp_path, capsys, no_leftover_children):
    out = tmp_path / "advice.json"
    argv = ["advise", "userfuncs:nap", "--args", "[[0.002], [0.002], [0.002], [0.002]]",
            "--path", HERE, "--cores", "2", "--backends", "threads", "--budget-seconds", "30",
            "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "recommendation:" in printed and "threads" in printed
    data = json.loads(out.read_text())
    assert data["ntasks"] == 4 and data["recommendation"]["text"] in printed
    assert {r["backend"] for r in data["rows"]} == {"serial", "threads"}


def test_advise_command_bad_input_exits_2_and_says_why(tmp_path, capsys):
    out = tmp_path / "advice.json"
    assert main(["advise", "userfuncs:nap", "--args", "[[0.1]", "--path", HERE]) == 2
    assert "--args is not valid JSON" in capsys.readouterr().err
    assert main(["advise", "userfuncs:nap", "--path", HERE]) == 2
    assert "say how to build the tasks: --tasks" in capsys.readouterr().err
    assert main(["advise", "nowhere_mod:f", "--args", "[[1]]", "--json", str(out)]) == 2
    assert "cannot import 'nowhere_mod:f'" in capsys.readouterr().err
    assert "ModuleNotFoundError" in json.loads(out.read_text())["error"]


# ---------------------------------------------------------------- config and experiments


def user_config(**kernel) -> dict:
    raw = {
        "user_kernels": {"mine": {"callable": "userfuncs:spin", "path": [HERE], **kernel}},
        "protocol": {"repeats": 6, "max_repeats": 6, "min_sample_seconds": 0.001,
                     "point_budget_seconds": 0.5},
        "experiments": {"scaling": {"kernels": ["mine"], "p": [1],
                                    "backends": ["serial", "threads", "processes-fork"],
                                    "strong_tasks": 4, "weak_tasks_per_worker": 2}},
    }  # fmt: skip
    return cfg.validate(raw)


def test_scaling_plans_and_measures_a_user_kernel_from_its_point_alone(no_leftover_children):
    conf = user_config(tasks="userfuncs:spin_tasks")
    points = scaling.points(conf, Node.here(2))
    assert {p.params["backend"] for p in points} == {"serial", "threads", "processes-fork"}
    point = next(p for p in points if p.params["backend"] == "processes-fork")
    carried = json.loads(point.to_json())["params"]["user_kernels"]["mine"]
    assert carried["callable"] == "userfuncs:spin" and carried["path"] == [HERE]
    result = scaling.measure(Point.from_json(point.to_json()))  # as a fresh process would
    assert result["kernel"] == "mine" and result["kind"] == "user"
    assert all(m["check_ok"] and m["unit"] == "task" for m in result["modes"])
    assert result["modes"][0]["work"] == 4  # one unit per task


def test_scaling_skips_process_backends_for_a_lambda_user_kernel():
    conf = user_config(args=[[1], [2]])
    conf["user_kernels"]["mine"]["callable"] = "userfuncs:tripled_lambda"
    backends = {p.params["backend"] for p in scaling.points(conf, Node.here(2))}
    assert backends == {"serial", "threads"}


def test_config_errors_name_the_user_kernel_key():
    conf = user_config(args=[[1]])
    conf["user_kernels"]["mine"]["callable"] = "userfuncs:nope"
    with pytest.raises(ConfigError, match=r"config key user_kernels.mine: cannot import "):
        scaling.points(conf, Node.here(2))
    with pytest.raises(ConfigError, match=r"user_kernels.mine.callable"):
        cfg.validate({"user_kernels": {"mine": {"callable": "no colon"}}})
    with pytest.raises(UserKernelError, match="the name of a built-in kernel"):
        get_kernel("mc-python", {"mc-python": {"callable": "userfuncs:spin", "args": [[1]]}})


def test_advice_json_round_trips_its_recommendation_text():
    adv = Advice("userfuncs:spin", "args", 4, [2], rows=[row("threads", 2, 0.5)])
    adv.recommendation = recommend(adv.rows, 0.01)
    d = adv.to_dict()
    assert d["recommendation"]["text"].startswith("threads: your function releases the GIL")
    assert d["rows"][0]["efficiency"] == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize(
    "module, fn, size",
    [
        ("purepython", "collatz_steps", 50),
        ("numpy_heavy", "gram_tanh", 32),
        ("numba_nogil", "pair_energy", 40),
    ],
)
def test_examples_import_by_name_and_pass_their_own_checks(module, fn, size):
    root = str(Path(HERE).parent)
    s = parse_spec(module, {"callable": f"examples.{module}:{fn}", "path": [root],
                            "tasks": f"examples.{module}:make_tasks",
                            "check": f"examples.{module}:check", "size": size})  # fmt: skip
    kernel = get_kernel(module, {module: s})
    tasks = kernel.make_tasks(0, 3, seed=5)  # 0: the spec's size
    assert kernel.check(tasks, [kernel.run(t) for t in tasks]).ok


def test_task_size_measures_a_user_kernel_whose_work_grows_with_size(no_leftover_children):
    from coresweep.experiments import task_size

    raw = {
        "user_kernels": {"mine": {"callable": "userfuncs:spin", "tasks": "userfuncs:spin_sized",
                                  "unit": "sample", "path": [HERE]}},
        "experiments": {"task_size": {"kernels": ["mine"], "backends": ["threads"],
                                      "task_seconds": [0.0005, 0.002], "work_seconds": 0.004,
                                      "max_tasks": 8, "protocol": {"repeats": 6, "max_repeats": 6,
                                      "min_sample_seconds": 0.001, "point_budget_seconds": 0.1}}},
    }  # fmt: skip
    (point,) = task_size.points(cfg.validate(raw), Node.here(2))
    assert point.params["user_kernels"]["mine"]["unit"] == "sample"
    result = task_size.measure(Point.from_json(point.to_json()))
    assert [k["kernel"] for k in result["kernels"]] == ["mine"]
    with pytest.raises(ConfigError, match=r"or set user_kernels.mine.size"):
        conf = user_config(tasks="userfuncs:spin_sized", unit="sample")
        scaling.points(conf, Node.here(2))


# ---------------------------------------------------------------- the command, as users run it


def run_advise(*argv: str) -> subprocess.CompletedProcess:
    """`coresweep advise` in a fresh interpreter: what it prints, and what it leaves at exit."""
    cmd = [sys.executable, "-m", "coresweep.cli", "advise", *argv, "--path", HERE]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=HERE)


def test_advise_leaves_no_leaked_semaphore_at_exit(tmp_path):
    out = tmp_path / "advice.json"
    proc = run_advise("userfuncs:spin_tidy", "--args", "[[3000], [3000], [3000], [3000]]",
                      "--cores", "1,2", "--oversubscribe", "--budget-seconds", "10",
                      "--backends", "threads,processes-fork,processes-forkserver",
                      "--json", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resource_tracker" not in proc.stderr, proc.stderr[-3000:]
    measured = {(r["backend"], r["p"]) for r in json.loads(out.read_text())["rows"]
                if r["status"] == "ok"}  # fmt: skip
    assert {("processes-fork", 2), ("processes-forkserver", 2)} <= measured  # pools did run


def test_advise_command_takes_a_factory_of_no_parameters(tmp_path):
    out = tmp_path / "advice.json"
    proc = run_advise("userfuncs:spin", "--tasks", "userfuncs:spin_list", "--cores", "2",
                      "--oversubscribe", "--backends", "threads,processes-fork",
                      "--budget-seconds", "10", "--json", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, *_ = proc.stdout.splitlines()
    assert "6 tasks from userfuncs:spin_list" in first
    advice = json.loads(out.read_text())
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("recommendation: ")]
    assert line == f"recommendation: {advice['recommendation']['text']}"
    backend = advice["recommendation"]["backend"]
    assert backend in {"serial", "threads", "processes-fork"}
    assert line.startswith(f"recommendation: {backend}")


def test_advise_help_reads_its_defaults_from_options_and_restates_none(monkeypatch):
    import argparse
    import dataclasses

    from coresweep import cli
    from coresweep.experiments import advise as adv

    monkeypatch.setattr(
        adv, "Options", dataclasses.make_dataclass("O", [("budget_seconds", float, 7.5)])
    )
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["advise"].format_help()
    assert "the sweep's budget (default: 7.5 s)" in text
    assert f"~{adv.PASS_SECONDS} s of serial work" in text
