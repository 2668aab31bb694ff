"""Config: defaults filled, bad input rejected before any measurement with the key named."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from coresweep import config as cfg
from coresweep.experiments import NAMES, plan
from coresweep.measure.cores import Node, usable_cores


def _scaling(**kw):
    """A config running only the scaling experiment, with kw as its settings."""
    from coresweep.experiments import EXPERIMENTS

    others = {name: {"enabled": False} for name in EXPERIMENTS if name != "scaling"}
    return cfg.validate({"experiments": {**others, "scaling": kw}})


def test_defaults_fill_every_section():
    c = cfg.validate({})
    assert c["seed"] == 20261125
    assert c["protocol"]["repeats"] >= 5
    assert c["protocol"]["min_sample_seconds"] == 0.04 and c["protocol"]["max_repeats"] == 6
    assert c["experiments"]["scaling"]["p"] == "auto"


def test_default_config_file_is_valid_and_plans_points():
    c = cfg.load("config/config.yaml")
    points = plan(c, Node.here(2))
    ids = {p.id for p in points}
    assert "mc-python__processes-fork__p1" in ids
    assert "mc-numba__numba-parallel__p2" in ids
    assert "mc-python__numba-parallel__p2" not in ids  # no prange version: not applicable


@pytest.mark.parametrize("name", NAMES)
def test_plan_skips_a_disabled_experiment_and_only_that_one(name):
    c = cfg.load("config/config.yaml")
    before = {p.experiment for p in plan(c, Node.here(2))}
    c["experiments"][name]["enabled"] = False
    after = {p.experiment for p in plan(c, Node.here(2))}
    assert name in before
    assert after == before - {name}


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"sede": 1}, "unknown config key(s) ['sede']"),
        ({"cores": {"max": 0}}, "cores.max"),
        ({"protocol": {"repeats": 1}}, "protocol.repeats"),
        ({"experiments": {"scaling": {"modes": ["sideways"]}}}, "experiments.scaling.modes[0]"),
        ({"experiments": {"scaling": {"sizes": {"dgemm": -5}}}}, "experiments.scaling.sizes.dgemm"),
        ({"experiments": {"nosuch": {}}}, "unknown config key(s) ['nosuch']"),
    ],
)
def test_schema_errors_name_the_key(bad, needle):
    with pytest.raises(cfg.ConfigError) as e:
        cfg.validate(bad)
    assert needle in str(e.value)


def test_unknown_kernel_and_backend_name_the_allowed_values():
    with pytest.raises(
        cfg.ConfigError, match=r"experiments.scaling.kernels: unknown kernel 'fft'.*mc-numba"
    ):
        plan(_scaling(kernels=["fft"]), Node.here(2))
    with pytest.raises(
        cfg.ConfigError, match=r"experiments.scaling.backends: unknown backend 'mpi'.*threads"
    ):
        plan(_scaling(backends=["mpi"]), Node.here(2))


def test_p_above_usable_cores_needs_oversubscription():
    too_many = usable_cores() + 1
    with pytest.raises(cfg.ConfigError, match="oversubscribe"):
        plan(_scaling(p=[1, too_many]), Node.here(too_many))
    c = _scaling(p=[1, too_many], kernels=["mc-python"], backends=["threads"])
    c["cores"]["oversubscribe"] = True
    assert {p.params["p"] for p in plan(c, Node.here(too_many))} == {1, too_many}


def test_auto_p_stops_at_the_granted_cores():
    c = _scaling(kernels=["mc-python"], backends=["threads"])
    assert {p.params["p"] for p in plan(c, Node.here(1))} == {1}


def test_size_that_cannot_fit_in_memory_is_refused():
    # sizes as given (no time budget shrinking them): 200000^2 doubles cannot fit
    c = _scaling(
        kernels=["dgemm"], backends=["serial"], sizes={"dgemm": 200_000}, strong_sample_seconds=None
    )
    with pytest.raises(cfg.ConfigError, match=r"experiments.scaling.sizes.dgemm.*more than half"):
        plan(c, Node.here(2))


def test_malformed_yaml_exits_2_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1, 2\n")
    r = subprocess.run(
        [sys.executable, "-m", "coresweep.cli", "plan", "--config", str(bad)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "malformed YAML" in r.stderr and str(bad) in r.stderr


def test_unknown_key_in_file_exits_2(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump({"experiments": {"scaling": {"backend": ["threads"]}}}))
    r = subprocess.run(
        [sys.executable, "-m", "coresweep.cli", "plan", "--config", str(f)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "['backend']" in r.stderr and "backends" in r.stderr


def test_pinning_more_workers_than_the_affinity_set_is_refused():
    c = _scaling(p=[usable_cores() + 1], kernels=["mc-python"], backends=["threads"])
    c["cores"]["oversubscribe"] = True
    c["protocol"]["pin_workers"] = True
    with pytest.raises(cfg.ConfigError, match="protocol.pin_workers.*affinity set"):
        plan(c, Node.here(64))
