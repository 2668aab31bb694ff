"""The one cost model of pools (coresweep.costs): every start method has its row, an unknown
one is refused, and every consumer reads the same numbers from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coresweep import config as cfg
from coresweep import costs
from coresweep.backends import BACKENDS
from coresweep.backends.base import Descriptor
from coresweep.experiments import faults, scaling
from coresweep.experiments.advise import start_guess_s
from coresweep.experiments.estimates import pool_start_seconds
from coresweep.kernels import get_kernel
from coresweep.measure import cleanup
from coresweep.measure.cores import Node
from coresweep.report import plots

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
FORK = BACKENDS["processes-fork"].descriptor


def test_every_start_method_the_registry_declares_has_its_costs():
    declared = {b.descriptor.start_method for b in BACKENDS.values()}
    assert declared <= set(costs.START_COSTS)
    assert tuple(costs.START_COSTS) == costs.START_METHODS
    supervisions = {b.descriptor.supervision for b in BACKENDS.values()}
    assert supervisions <= set(costs.RESTART_SECONDS)


def test_a_backend_with_an_unknown_start_method_is_refused_naming_it_and_the_allowed():
    with pytest.raises(ValueError) as err:

        class GpuBackend:
            descriptor = Descriptor(
                isolation="process",
                shares_memory=False,
                arguments="pickled",
                pickler="pickle",
                start_method="gpu-context",
                supervision="pool-broken",
                gil_bound=False,
            )

    message = str(err.value)
    assert "start_method 'gpu-context'" in message
    assert "GpuBackend" in message
    assert str(costs.START_METHODS) in message  # every method the table has a row for
    assert {"fork", "forkserver", "spawn", "interpreter"} <= set(costs.START_METHODS)
    assert "coresweep.costs.START_COSTS" in message


def test_start_seconds_follow_launches_and_import_waves():
    spawn = BACKENDS["processes-spawn"].descriptor
    # 4 workers on 2 cores: 4 launches of 0.05 s and two import waves of 0.4 s
    assert costs.start_seconds(spawn, 4, 2) == pytest.approx(4 * 0.05 + 2 * 0.4)
    assert costs.start_seconds(FORK, 4, 2) == pytest.approx(0.05 + 4 * 0.005)
    assert costs.start_seconds(BACKENDS["threads"].descriptor, 4, 2) == pytest.approx(0.004)
    assert costs.helper_count(BACKENDS["processes-forkserver"].descriptor) == 2
    assert costs.helper_count(FORK) == 1
    assert costs.helper_count(BACKENDS["threads"].descriptor) == 0


def test_dispatch_cost_is_read_from_the_descriptor():
    assert costs.dispatch_seconds(BACKENDS["numba-parallel"].descriptor) == 0.0  # batch
    assert costs.dispatch_seconds(BACKENDS["dask-threads"].descriptor) == 5e-4
    assert costs.dispatch_seconds(BACKENDS["dask-processes"].descriptor) == 1e-3
    assert costs.dispatch_seconds(BACKENDS["threads"].descriptor) == 3e-5
    assert costs.dispatch_seconds(FORK) == 1e-4


def _scaling_seconds(descriptor: Descriptor, p: int) -> float:
    protocol = cfg.load(CONFIG)["protocol"]
    modes = {"strong": {"size": 1000, "ntasks": 4}}
    baseline = {"size": 1000, "ntasks": 2}
    kernel = get_kernel("mc-python")
    return scaling.predict_seconds(kernel, descriptor, p, modes, baseline, protocol, 2, True)


def _faults_params() -> faults.Params:
    config = cfg.load(CONFIG)
    config["experiments"]["faults"]["backends"] = ["processes-fork"]
    (point,) = faults.points(config, Node.here(2))
    return point.typed(faults.Params)


def test_every_consumer_reads_the_start_cost_of_a_fork_pool_from_the_one_table(monkeypatch):
    before_scaling = _scaling_seconds(FORK, 2)
    prm = _faults_params()
    before_faults, _ = faults.predict(prm)
    row = costs.START_COSTS["fork"]
    monkeypatch.setitem(
        costs.START_COSTS,
        "fork",
        dataclasses.replace(row, fixed=row.fixed + 1.0, stop=row.stop + 2.0, bare=row.bare + 3.0),
    )
    # scaling: its start (+1 s) and its stop (+2 s)
    assert _scaling_seconds(FORK, 2) == pytest.approx(before_scaling + 3.0)
    # faults: every trial of every fault starts a bare pool (+3 s each)
    trials = sum(faults.expected_trials(FORK.supervision, f, prm) for f in prm.faults)
    assert faults.predict(prm)[0] == pytest.approx(before_faults + 3.0 * trials)
    # task size, responsiveness, hybrid ... (pool_start_seconds) and advise's budget
    assert pool_start_seconds("processes-fork", 2, 2) == pytest.approx(1.0 + 0.05 + 2 * 0.005)
    assert start_guess_s("processes-fork", 2) == pytest.approx(1.06 + row.stop + 2.0)


def test_plots_and_cleanup_read_the_start_methods_and_helpers_of_the_table():
    # the methods that start processes, in the table's order: today these five
    assert {"fork", "forkserver", "spawn", "loky", "nanny"} <= set(plots.START_SHADES)
    assert "none" not in plots.START_SHADES and "interpreter" not in plots.START_SHADES
    assert costs.process_start_methods() == plots.START_SHADES
    assert cleanup.TRACKERS == ("multiprocessing.resource_tracker", "loky.backend.resource_tracker")
    assert (*cleanup.TRACKERS, "multiprocessing.forkserver") == cleanup.INTERPRETER_HELPERS
    assert costs.helper_modules() == cleanup.INTERPRETER_HELPERS
