"""Verdict rules by experiment name: the report asks here, not the experiment.

Each experiment's rule is `<name>_verdicts(table, machine[, threshold]) -> list[Verdict]` in
analysis/verdicts/<name>.py, imported on first use (a measurement job never loads it); a
module converted to the decision engine also lists its claim declarations as `CLAIMS`.
Adding an experiment is one rule module plus one name here.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from coresweep.analysis.verdict import Verdict
    from coresweep.analysis.verdicts.engine import Claim

#: every experiment with verdict rules; its rule is analysis/verdicts/<name>.py:<name>_verdicts
NAMES = ("scaling", "task_size", "hybrid", "load", "memory", "communication",
         "responsiveness", "single_core", "context_switch", "faults", "synchronization")  # fmt: skip

Rule = Callable[["pd.DataFrame", str], "list[Verdict]"]


def verdict_rule(name: str) -> Rule:
    """The verdict rule of experiment `name` (KeyError for an experiment without one)."""
    if name not in NAMES:
        raise KeyError(name)
    module = importlib.import_module(f"coresweep.analysis.verdicts.{name}")
    return getattr(module, f"{name}_verdicts")


def verdicts(
    name: str, table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """Experiment `name`'s verdict rows from its table, measured on `machine`; threshold:
    the run's protocol.difference_threshold (None: the schema's default)."""
    rule = verdict_rule(name)
    if "threshold" in inspect.signature(rule).parameters:
        return rule(table, machine, threshold=threshold)
    return rule(table, machine)


def declarations() -> dict[str, Claim]:
    """Every claim declared for the decision engine, by claim id."""
    out: dict[str, Claim] = {}
    for name in NAMES:
        module = importlib.import_module(f"coresweep.analysis.verdicts.{name}")
        out |= {c.id: c for c in getattr(module, "CLAIMS", ())}
    return out
