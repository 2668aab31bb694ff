"""Plots by experiment name: the report asks here, not the experiment.

Each experiment's figures are drawn by `<name>_plots(table, outdir, machine) -> list[Path]`
in report/plots/<name>.py, imported on first use. Adding an experiment is one plot module
plus one name here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: every experiment with plots; its figures come from report/plots/<name>.py:<name>_plots
NAMES = ("scaling", "task_size", "hybrid", "load", "memory", "communication",
         "responsiveness", "single_core", "context_switch", "faults", "synchronization")  # fmt: skip

Drawer = Callable[["pd.DataFrame", Path, str], "list[Path]"]


def module_name(name: str) -> str:
    """The module that draws experiment `name`'s figures (KeyError for one without plots)."""
    if name not in NAMES:
        raise KeyError(name)
    return f"coresweep.report.plots.{name}"


def plot_rule(name: str) -> Drawer:
    """The function that draws experiment `name`'s figures."""
    return getattr(importlib.import_module(module_name(name)), f"{name}_plots")


def plots(name: str, table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Experiment `name`'s figures from its table, written under `outdir`."""
    return [Path(p) for p in plot_rule(name)(table, outdir, machine)]
