"""Experiment registry: adding a claim is one module and one line here."""

from __future__ import annotations

from typing import Any

from coresweep.config import ConfigError
from coresweep.experiments import (
    communication,
    context_switch,
    faults,
    hybrid,
    memory,
    responsiveness,
    scaling,
    single_core,
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
        memory.EXPERIMENT,
        communication.EXPERIMENT,
        responsiveness.EXPERIMENT,
        single_core.EXPERIMENT,
        context_switch.EXPERIMENT,
        faults.EXPERIMENT,
    )
}


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS))}"
        ) from None


def plan(config: dict[str, Any], granted: int) -> list[Point]:
    """Every point of every enabled experiment; ConfigError before anything is measured."""
    points: list[Point] = []
    for name in config["experiments"]:
        points += get_experiment(name).points(config, granted)
    ids = [(p.experiment, p.id) for p in points]
    if len(ids) != len(set(ids)):
        raise ConfigError("two points share an id; check the experiment's point_id parts")
    return points


__all__ = ["EXPERIMENTS", "Experiment", "Verdict", "get_experiment", "plan"]
