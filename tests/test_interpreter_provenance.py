"""Every raw record and table row says which interpreter measured it and whether its GIL was on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from coresweep import config as cfg
from coresweep import experiments
from coresweep.experiments import NAMES, scaling
from coresweep.experiments.rows import interpreter_columns, row_tail
from coresweep.measure import provenance, runner
from coresweep.measure.cores import Node
from coresweep.measure.provenance import interpreter_facts, interpreter_label
from coresweep.records import read_raw, record_interpreter

PROTOCOL = {
    "warmup": 1,
    "repeats": 6,
    "max_repeats": 6,
    "min_sample_seconds": 0.01,
    "point_budget_seconds": 0.05,
    "capacity_wait_seconds": 0,
    "retries": 0,
}


def _facts(version: str, free_threaded: bool, gil_enabled: bool) -> dict:
    return {"version": version, "implementation": "CPython", "free_threaded": free_threaded,
            "gil_enabled": gil_enabled, "python_gil": None, "executable": "/x/python"}  # fmt: skip


def test_facts_of_this_gil_build(monkeypatch):
    monkeypatch.delenv("PYTHON_GIL", raising=False)
    facts = interpreter_facts()
    # the interpreters on these machines are GIL builds only (3.11, 3.12, 3.13)
    assert facts == {
        "version": platform.python_version(),
        "implementation": "CPython",
        "executable": sys.executable,
        "free_threaded": False,
        "gil_enabled": True,
        "python_gil": None,
    }
    major, minor = sys.version_info[:2]
    assert interpreter_label(facts) == f"cpython-{major}.{minor}"


def test_python_gil_is_read_from_the_environment():
    code = "import json; from coresweep.measure.provenance import interpreter_facts as f; "
    code += "print(json.dumps(f()))"
    env = {**os.environ, "PYTHON_GIL": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert facts["python_gil"] == "1"
    assert facts["gil_enabled"] is True  # PYTHON_GIL=1 holds the GIL on any build


@pytest.mark.parametrize(
    ("facts", "label", "flags"),
    [
        (_facts("3.11.7", False, True), "cpython-3.11", "cv>10%"),
        (_facts("3.13.0", False, True), "cpython-3.13", "cv>10%"),
        (_facts("3.14.1", True, False), "cpython-3.14t", "cv>10%"),
        (_facts("3.14.1", True, True), "cpython-3.14t+gil", "cv>10%;gil-reenabled"),
    ],
)
def test_label_and_flag_of_an_interpreter(facts, label, flags):
    assert interpreter_label(facts) == label
    rec = {"point": {"id": "a"}, "provenance_hash": "h", "interpreter": facts}
    assert row_tail(rec, ["cv>10%"])["flags"] == flags
    cols = interpreter_columns([rec])
    assert cols == {
        "interpreter": {"a": label},
        "free_threaded": {"a": facts["free_threaded"]},
        "gil_enabled": {"a": facts["gil_enabled"]},
    }


def test_an_older_record_reads_its_python_from_the_provenance():
    rec = {"point": {"id": "a"}, "provenance": {"python": {"version": "3.11.7 (main, Dec 2023)",
                                                           "implementation": "CPython"}}}  # fmt: skip
    facts = record_interpreter(rec)
    assert interpreter_label(facts) == "cpython-3.11"
    assert (facts["free_threaded"], facts["gil_enabled"]) == (None, None)


def test_env_provenance_holds_the_interpreter():
    assert provenance.collect()["interpreter"] == interpreter_facts()


def _tiny_point() -> scaling.Point:
    others = {name: {"enabled": False} for name in NAMES if name != "scaling"}
    conf = cfg.validate(
        {
            "protocol": PROTOCOL,
            "experiments": {
                **others,
                "scaling": {
                    "kernels": ["mc-python"],
                    "backends": ["threads"],
                    "p": [1],
                    "strong_tasks": 2,
                    "weak_tasks_per_worker": 1,
                    "strong_sample_seconds": None,
                    "sizes": {"mc-python": 500},
                    "kernel_modes": {},
                    "kernel_backends": {},
                },
            },
        }
    )
    return scaling.points(conf, Node.here(2))[0]


def test_a_real_job_records_the_interpreter_in_its_raw_file_and_table(tmp_path):
    point = _tiny_point()
    runner.run_job([point], lambda name: experiments.get_experiment(name).measure, tmp_path)
    record = read_raw(tmp_path / f"{point.id}.json")
    assert record["interpreter"] == interpreter_facts()
    table = experiments.build_table("scaling", [record])
    major, minor = sys.version_info[:2]
    assert set(table["interpreter"]) == {f"cpython-{major}.{minor}"}
    assert set(table["free_threaded"]) == {record["interpreter"]["free_threaded"]}
    assert set(table["gil_enabled"]) == {record["interpreter"]["gil_enabled"]}
    assert not any("gil-reenabled" in f for f in table["flags"])
    # the serial baseline's cost per unit of work, compared across interpreters in the report
    cost = table[["serial_s_per_unit", "serial_s_per_unit_ci_lo", "serial_s_per_unit_ci_hi"]]
    assert (cost.serial_s_per_unit_ci_lo <= cost.serial_s_per_unit).all()
    assert (cost.serial_s_per_unit <= cost.serial_s_per_unit_ci_hi).all()
    assert (cost.serial_s_per_unit > 0).all()
