"""Plots by experiment name: the report asks here, not the experiment.

Each experiment's figures are drawn by `<name>_plots(table, outdir, machine) -> list[Path]`
in its plots module (claims.EXPERIMENT_MODULES: report/plots/<name>.py), imported on first
use. Adding an experiment is one plot module; its name is registered once, in
claims.EXPERIMENT_MODULES.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from coresweep.claims import modules_of

if TYPE_CHECKING:
    import pandas as pd

Drawer = Callable[["pd.DataFrame", Path, str], "list[Path]"]


def module_name(name: str) -> str:
    """The module that draws experiment `name`'s figures (KeyError for one without plots)."""
    return modules_of(name).plots


def plot_rule(name: str) -> Drawer:
    """The function that draws experiment `name`'s figures."""
    return getattr(importlib.import_module(module_name(name)), f"{name}_plots")


def plots(name: str, table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Experiment `name`'s figures from its table, written under `outdir`."""
    return [Path(p) for p in plot_rule(name)(table, outdir, machine)]
