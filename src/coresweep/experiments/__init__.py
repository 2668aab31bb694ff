"""Experiment registry: adding a claim is one module and one line here."""

from __future__ import annotations

from typing import Any

from coresweep.config import ConfigError
from coresweep.experiments import (
    common,
    communication,
    context_switch,
    faults,
    hybrid,
    load,
    memory,
    responsiveness,
    scaling,
    single_core,
    synchronization,
    task_size,
)
from coresweep.experiments.base import Experiment, Verdict
from coresweep.records import Point

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        scaling.EXPERIMENT,
        task_size.EXPERIMENT,
        hybrid.EXPERIMENT,
        load.EXPERIMENT,
        memory.EXPERIMENT,
        communication.EXPERIMENT,
        responsiveness.EXPERIMENT,
        single_core.EXPERIMENT,
        context_switch.EXPERIMENT,
        faults.EXPERIMENT,
        synchronization.EXPERIMENT,
    )
}


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS))}"
        ) from None


def plan(config: dict[str, Any], granted: int, cluster: bool = False) -> list[Point]:
    """Every point of every enabled experiment; ConfigError before anything is measured.

    On a cluster, `granted` is the cores of a compute node, not of the submitting host.
    """
    points: list[Point] = []
    common.CLUSTER_NODE_CORES[:] = [granted] if cluster else []
    for name in config["experiments"]:
        points += get_experiment(name).points(config, granted)
    ids = [(p.experiment, p.id) for p in points]
    if len(ids) != len(set(ids)):
        raise ConfigError("two points share an id; check the experiment's point_id parts")
    return points


__all__ = ["EXPERIMENTS", "Experiment", "Verdict", "get_experiment", "plan"]
