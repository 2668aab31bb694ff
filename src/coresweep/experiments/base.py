"""The experiment interface: plan points, measure one, aggregate, decide, plot.

An experiment is a record of module-level functions, like a kernel. Adding a claim is
one experiment module plus one line in the registry and one entry in `coresweep.claims`.

Experiment modules import pandas and their verdict rules inside `aggregate` and `verdicts`
only: a measurement job imports what it measures with, not the table library (~0.5 s of
every job's start-up; tests/test_packaging.py keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coresweep.analysis.verdict import Verdict
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
    #: (table, machine label) -> verdict rows
    verdicts: Callable[[pd.DataFrame, str], list[Verdict]]
    #: (table, output dir, machine label) -> written plot files
    plots: Callable[[pd.DataFrame, Path, str], list[Path]]
    description: str = ""
