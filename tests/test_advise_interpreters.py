"""`coresweep advise --interpreters`: the advice once per interpreter, in its environment,
and one line naming what holds on which."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import pytest
from wfhelpers import pyenv_python

from coresweep import advise_interpreters as ai
from coresweep.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
HERE = str(Path(__file__).resolve().parent)


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["advise", *argv])


def test_each_run_gets_the_users_arguments_without_interpreters_and_its_own_json():
    args = _args("m:f", "--args", "[[1]]", "--cores", "1,2", "--oversubscribe", "--path", "a",
                 "--budget-seconds", "9", "--interpreters", "current,3.13", "--json", "x.json")  # fmt: skip
    assert ai.child_argv(args, "/tmp/0.json") == [
        "advise", "m:f", "--args", "[[1]]", "--cores", "1,2", "--budget-seconds", "9.0",
        "--oversubscribe", "--path", "a", "--json", "/tmp/0.json",
    ]  # fmt: skip
    # a seed the user gave goes along; one not given is the child's default too (the config's)
    seeded = _args("m:f", "--args", "[[1]]", "--seed", "7")
    assert ai.child_argv(seeded, "/tmp/0.json")[-4:] == ["--seed", "7", "--json", "/tmp/0.json"]


def test_the_summary_names_each_interpreters_backend_or_why_it_has_none():
    got = ai.summary(
        [
            ai.Measured("3.11 (GIL)", {"recommendation": {"backend": "processes-fork"}}, 0),
            ai.Measured("3.14t", {"recommendation": {"backend": "threads"}}, 0),
            ai.Measured("3.13 (GIL)", {"error": "no task factory"}, 2),
            ai.Measured("3.12 (GIL)", {}, 1),
        ]
    )
    assert got == (
        "processes-fork on 3.11 (GIL); threads on 3.14t; no advice on 3.13 (GIL): no task "
        "factory; no recommendation on 3.12 (GIL) (exit 1)"
    )


@pytest.mark.parametrize(
    ("info", "label"),
    [
        ({"version": [3, 11, 7], "free_threaded": False, "gil_enabled": True}, "3.11 (GIL)"),
        ({"version": [3, 14, 0], "free_threaded": True, "gil_enabled": False}, "3.14t"),
        ({"version": [3, 14, 0], "free_threaded": True, "gil_enabled": True}, "3.14t (GIL on)"),
    ],
)
def test_an_interpreter_is_named_by_its_version_and_build(info, label):
    assert ai.build_label(info) == label


def test_a_bad_request_is_refused_naming_the_flag_before_anything_runs(capsys):
    argv = ["advise", "userfuncs:nap", "--args", "[[0.001]]", "--path", HERE,
            "--interpreters", "current,3.9"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--interpreters[1]: Python 3.9 is older than 3.11" in err
    assert "==" not in capsys.readouterr().out  # no interpreter's run started


@pytest.mark.slow
def test_advice_runs_in_each_interpreter_and_says_what_holds_on_which(
    tmp_path, capsys, monkeypatch
):
    other = pyenv_python("13")
    assert other is not None, "pyenv's 3.13 is on every machine of this project"
    monkeypatch.chdir(ROOT)  # the environments live in the checkout's .venvs/, reused
    out = tmp_path / "advice.json"
    argv = ["advise", "userfuncs:nap", "--args", "[[0.004], [0.004], [0.004], [0.004]]",
            "--path", HERE, "--cores", "2", "--backends", "threads", "--budget-seconds", "20",
            "--interpreters", f"current,{other}", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    here = ".".join(platform.python_version_tuple()[:2])
    saved = json.loads(out.read_text())
    # a sleeping function releases the GIL: threads on both (and each run measured both)
    assert saved["summary"] == f"threads on {here} (GIL); threads on 3.13 (GIL)"
    for m in saved["interpreters"]:
        backends = {r["backend"]: r["status"] for r in m["advice"]["rows"]}
        assert backends == {"serial": "ok", "threads": "ok"}
    text = capsys.readouterr().out
    assert f"== coresweep advise on 3.13 (GIL) ({other}) ==" in text
    assert f"across interpreters: {saved['summary']}" in text
