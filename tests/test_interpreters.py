"""`interpreters:` in the config: requests parsed and refused, the plan per interpreter, and
a real run of the tiny config on a second interpreter in its own uv environment."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pytest
import yaml
from wfhelpers import CONFIGS, ROOT, copy_workflow, pyenv_python, snakemake, write_config

from coresweep import config as cs_config
from coresweep import interpreters as it
from coresweep.experiments import get_experiment, plan
from coresweep.measure.cores import Node
from coresweep.planning import AGGREGATE_S, FIXED_S, jobs_of, predicted_seconds, summary_text

NODE = Node.sized(2, 32.0)
HERE = tuple(int(x) for x in platform.python_version_tuple())
FORMS = "'current', a version such as 3.13, 3.14t or 3.14+gil, or a path to a python executable"


@pytest.mark.parametrize(
    ("request_", "label", "free_threaded", "gil_env", "uv_request"),
    [
        ("3.13", "3.13", False, {}, "3.13"),
        ("3.12.1", "3.12.1", False, {}, "3.12.1"),
        ("3.14t", "3.14t", True, {}, "3.14t"),
        ("3.14+gil", "3.14t+gil", True, {"PYTHON_GIL": "1"}, "3.14t"),
        ("3.14t+gil", "3.14t+gil", True, {"PYTHON_GIL": "1"}, "3.14t"),
    ],
)
def test_version_requests_parse_to_label_build_and_uv_request(
    request_, label, free_threaded, gil_env, uv_request
):
    got = it.parse(request_)
    assert (got.label, got.free_threaded, got.environment, got.uv_request) == (
        label,
        free_threaded,
        gil_env,
        uv_request,
    )
    assert got.suffix == f"__py{label}"
    assert got.env_dir == Path(".venvs") / label


def test_current_interpreter_adds_no_suffix_and_needs_no_environment():
    cur = it.parse("current")
    assert (cur.current, cur.suffix, cur.measure_command()) == (True, "", "coresweep")
    p = plan(cs_config.validate({}), NODE)[0]
    assert cur.apply(p) is p


def test_a_path_request_is_probed_for_its_version_and_build():
    got = it.parse(sys.executable, "interpreters[0]")
    assert got.path == sys.executable
    assert got.version == HERE
    assert got.label == ".".join(map(str, HERE)) + ("t" if got.free_threaded else "")
    assert got.uv_request == sys.executable


def test_uv_commands_create_the_env_then_install_this_checkout_editable():
    got = it.parse("3.14+gil")
    assert got.uv_commands(Path("/src/coresweep")) == [
        ["uv", "venv", "--clear", "--python", "3.14t", ".venvs/3.14t+gil"],
        ["uv", "pip", "install", "--python", ".venvs/3.14t+gil/bin/python", "-e", "/src/coresweep"],
    ]
    assert got.measure_command() == "env PYTHON_GIL=1 .venvs/3.14t+gil/bin/python -m coresweep.cli"
    assert it.parse("3.13").measure_command() == ".venvs/3.13/bin/python -m coresweep.cli"
    assert it.project_root() == ROOT


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        (["current", "3.x"], f"config key interpreters[1]: '3.x' is not {FORMS}"),
        (["2.7"], "config key interpreters[0]: Python 2.7 is older than 3.11, the oldest coresweep runs on"),
        (["python3"], f"config key interpreters[0]: 'python3' is not {FORMS}"),
        (
            [3.1],
            "config key interpreters[0]: Python 3.1 is older than 3.11, the oldest coresweep runs "
            "on (YAML reads an unquoted 3.10 as the number 3.1: quote it)",
        ),
        (
            ["3.12t"],
            "config key interpreters[0]: '3.12t' asks for a free-threaded build, which exists "
            "from Python 3.13 on",
        ),
        (
            ["current", "/no/such/python"],
            "config key interpreters[1]: '/no/such/python' does not exist (or is not a file)",
        ),
        (
            [3.13, "3.13"],
            "config key interpreters[1]: '3.13' is the same interpreter (3.13) as "
            "interpreters[0] '3.13'",
        ),
        (["current", "current"], "config key interpreters[1]: 'current' is the same interpreter (current) as interpreters[0] 'current'"),
        ([], "config key interpreters: [] should be non-empty"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_naming_the_entry(requests, message):
    with pytest.raises(cs_config.ConfigError) as exc:
        cs_config.validate({"interpreters": requests})
    assert str(exc.value) == message


def test_a_file_that_is_not_a_python_is_refused(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho not a python\n")
    fake.chmod(0o755)
    with pytest.raises(cs_config.ConfigError) as exc:
        cs_config.validate({"interpreters": ["current", str(fake)]})
    assert str(exc.value).startswith(
        f"config key interpreters[1]: '{fake}' is not a python executable (running it failed:"
    )


def test_a_python_older_than_3_11_given_by_path_is_refused():
    old = pyenv_python("10")
    if old is None:  # the machine has none: a path that does not exist is refused instead
        old = "/no/python3.10"
    with pytest.raises(cs_config.ConfigError) as exc:
        cs_config.validate({"interpreters": [old]})
    assert str(exc.value).startswith(f"config key interpreters[0]: '{old}' ")
    assert "needs 3.11 or newer" in str(exc.value) or "does not exist" in str(exc.value)


def _plain_plan(config):
    """The plan as it was before `interpreters:`: every enabled experiment's own points."""
    out = []
    for name, section in config["experiments"].items():
        if section["enabled"]:
            out += get_experiment(name).points(config, NODE)
    return out


def test_the_default_plan_is_unchanged_by_interpreters():
    config = cs_config.validate({})
    assert config["interpreters"] == ["current"]
    got, before = plan(config, NODE), _plain_plan(config)
    assert got == before
    assert [j.id for j in jobs_of(got)] == [j.id for j in jobs_of(before)]
    assert "interpreter" not in summary_text(got, NODE)


def test_a_second_interpreter_doubles_the_plan_in_jobs_of_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .venvs here: the environment is still to create
    base = cs_config.validate({})
    both = cs_config.validate({"interpreters": ["current", "3.13"]})
    one, two = plan(base, NODE), plan(both, NODE)
    assert len(two) == 2 * len(one)
    assert two[: len(one)] == one
    assert [p.id for p in two[len(one) :]] == [p.id + "__py3.13" for p in one]
    assert len({(p.experiment, p.id) for p in two}) == len(two)
    for job in jobs_of(two):  # a job (so a curve measured in it) never mixes interpreters
        assert len({it.label_of(p) for p in job.points}) == 1
        assert job.id.endswith("__py3.13") == (job.interpreter == "3.13")
    experiments = len({p.experiment for p in one})
    jobs_s = predicted_seconds(one) - FIXED_S - experiments * AGGREGATE_S
    assert predicted_seconds(two) == pytest.approx(
        predicted_seconds(one) + jobs_s + it.ENV_CREATE_S
    )
    text = summary_text(two, NODE)
    assert "3.13" in text and ".venvs/3.13 (to create)" in text


def test_the_list_replaces_the_current_interpreter():
    config = cs_config.validate({"interpreters": ["3.14t"]})
    points = plan(config, NODE)
    assert len(points) == len(plan(cs_config.validate({}), NODE))
    assert {it.label_of(p) for p in points} == {"3.14t"}
    assert all(p.id.endswith("__py3.14t") for p in points)


def test_the_package_uv_named_in_a_failed_install_is_found():
    out = "  × Failed to build `llvmlite==0.50.0`\n  ├─▶ The build backend returned an error"
    assert it.failed_package(out) == "llvmlite"
    assert it.failed_package("error: something else") is None


def test_an_interpreter_uv_cannot_find_fails_its_environment_naming_the_entry(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cs_config.ConfigError) as exc:
        it.create(it.parse("3.99", "interpreters[2]"), ROOT)
    assert str(exc.value).startswith(
        "config key interpreters[2]: uv found no Python for '3.99' (install one with "
        "`uv python install 3.99`, or give a path): "
    )
    assert not (tmp_path / ".venvs" / "3.99" / it.MARKER).exists()


def test_an_environment_that_fails_to_install_names_the_package(tmp_path, monkeypatch):
    """A project whose dependency cannot be met, resolved offline (no network asked)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "fakesweep"\nversion = "0"\ndependencies = ["numpy<0.1"]\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UV_OFFLINE", "1")
    current = it.parse(sys.executable, "interpreters[1]")
    with pytest.raises(cs_config.ConfigError) as exc:
        it.create(current, project)
    assert str(exc.value).startswith(
        f"config key interpreters[1]: installing coresweep into the {current.label} "
        "environment failed at package numpy: "
    )


# ---- a real run on a second interpreter ------------------------------------------------


def _tiny_two_interpreters(wd: Path, other: str) -> Path:
    path = write_config(wd, CONFIGS / "tiny.yaml")
    cfg = yaml.safe_load(path.read_text())
    cfg["interpreters"] = ["current", other]
    cfg["experiments"]["scaling"].update(kernels=["mc-python"], backends=["threads"])
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_tiny_run_on_a_second_interpreter_measures_in_its_own_environment(tmp_path):
    other = pyenv_python("13")
    wd = copy_workflow(tmp_path / "wf")
    if other is None:  # no second interpreter on this machine: the request is refused
        config = _tiny_two_interpreters(wd, "/no/such/python3.13")
        r = snakemake(wd, config, "--cores", "2", "-n")
        assert r.returncode != 0
        assert (
            "config key interpreters[1]: '/no/such/python3.13' does not exist"
            in r.stdout + r.stderr
        )
        return
    # the environments live in the checkout's git-ignored .venvs/, reused by later runs
    (ROOT / ".venvs").mkdir(exist_ok=True)
    (wd / ".venvs").symlink_to(ROOT / ".venvs")
    label = it.parse(other).label
    config = _tiny_two_interpreters(wd, other)
    jobs = ["results/jobs/scaling/threads.json", f"results/jobs/scaling/threads__py{label}.json"]
    fresh = not (ROOT / ".venvs" / label / it.MARKER).exists()
    r = snakemake(wd, config, "--cores", "2", *jobs)
    assert r.returncode == 0, r.stderr[-3000:]
    marker = json.loads((wd / ".venvs" / label / it.MARKER).read_text())
    assert (marker["version"], marker["request"]) == (list(it.parse(other).version), other)
    # made once (with its log), then reused by every later run
    assert (wd / "logs" / "interpreters" / f"{label}.log").exists() == fresh
    assert ("rule interpreter_environment:" in r.stderr) == fresh
    raw = sorted((wd / "results" / "raw" / "scaling").glob("*.json"))
    versions = {}
    for f in raw:
        rec = json.loads(f.read_text())
        facts = rec.get("interpreter") or {"version": rec["provenance"]["python"]["version"]}
        versions[f.stem] = str(facts["version"]).split(" ")[0]
    here = platform.python_version()
    assert versions == {
        "mc-python__threads__p1": here,
        "mc-python__threads__p2": here,
        f"mc-python__threads__p1__py{label}": label,
        f"mc-python__threads__p2__py{label}": label,
    }


def test_every_experiment_reads_its_typed_params_back_on_another_interpreter():
    """The plan adds the interpreter to every point's params; each experiment's typed record
    still reads them (the label is the plan's, not the experiment's)."""
    import importlib

    from coresweep.claims import modules_of

    config = cs_config.validate({"interpreters": ["current", "3.13"]})
    points = plan(config, NODE)
    others = [p for p in points if p.params.get("interpreter") == "3.13"]
    assert {p.experiment for p in others} == {p.experiment for p in points}
    for p in others:
        params = importlib.import_module(modules_of(p.experiment).experiment).Params
        assert p.typed(params) == next(q for q in points if q.id + "__py3.13" == p.id).typed(params)
