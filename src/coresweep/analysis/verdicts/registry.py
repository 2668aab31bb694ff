"""Verdict rules by experiment name: the report asks here, not the experiment.

Each experiment's rule is `<name>_verdicts(table, machine[, threshold]) -> list[Verdict]` in
its verdicts module (claims.EXPERIMENT_MODULES: analysis/verdicts/<name>.py), imported on
first use (a measurement job never loads it); a module converted to the decision engine also
lists its claim declarations as `CLAIMS`. Adding an experiment is one rule module; its name
is registered once, in claims.EXPERIMENT_MODULES.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from coresweep.claims import EXPERIMENT_MODULES, modules_of

if TYPE_CHECKING:
    import pandas as pd

    from coresweep.analysis.verdicts.engine import Claim
    from coresweep.analysis.verdicts.record import Verdict

Rule = Callable[["pd.DataFrame", str], "list[Verdict]"]


def verdict_rule(name: str) -> Rule:
    """The verdict rule of experiment `name` (KeyError for an experiment without one)."""
    module = importlib.import_module(modules_of(name).verdicts)
    return getattr(module, f"{name}_verdicts")


def verdicts(
    name: str, table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """Experiment `name`'s verdict rows from its table, measured on `machine`; threshold:
    the run's protocol.difference_threshold (None: the schema's default)."""
    return verdict_rule(name)(table, machine, threshold)


def declarations() -> dict[str, Claim]:
    """Every claim declared for the decision engine, by claim id."""
    out: dict[str, Claim] = {}
    for modules in EXPERIMENT_MODULES.values():
        module = importlib.import_module(modules.verdicts)
        out |= {c.id: c for c in getattr(module, "CLAIMS", ())}
    return out
