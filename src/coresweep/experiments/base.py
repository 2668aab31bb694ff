"""The experiment interface: plan points, measure one, aggregate them into a table.

An experiment is a record of module-level functions, like a kernel: its points, its
measurement and its table columns. Verdict rules live in analysis/verdicts and plots in
report/plots, each found by experiment name (`coresweep.claims.Modules`). Adding a claim
with its own experiment is those three modules, its entries in `coresweep.claims` and its
config section in `coresweep.config_model`.

Experiment modules import pandas inside `aggregate` only: a measurement job imports what
it measures with, not the table library (~0.5 s of every job's start-up;
tests/test_packaging.py keeps it so).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coresweep.measure.cores import Node
from coresweep.records import Point

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Experiment:
    """What the pipeline needs from an experiment."""

    name: str
    claims: tuple[str, ...]
    #: (config, node) -> points of this (enabled) experiment, each with its job, predicted
    #: seconds and memory; raises ConfigError on impossible requests. `plan` skips
    #: experiments whose `enabled` is false.
    points: Callable[[dict[str, Any], Node], list[Point]]
    #: point -> JSON-able result (samples, checks); progress goes to the logger
    measure: Callable[[Point], dict[str, Any]]
    #: raw records (as read from results/raw) -> one tidy table, one row per point/level
    aggregate: Callable[[Sequence[dict[str, Any]]], pd.DataFrame]
    description: str = ""


def from_module(module: str, claims: tuple[str, ...], description: str) -> Experiment:
    """The record of an experiment module (pass its `__name__`, at its end): named after the
    module, with the module's own `points`, `measure` and `aggregate`."""
    mod = sys.modules[module]
    return Experiment(
        name=module.rpartition(".")[2],
        claims=claims,
        points=mod.points,
        measure=mod.measure,
        aggregate=mod.aggregate,
        description=description,
    )
