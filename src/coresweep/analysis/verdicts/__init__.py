"""Verdict rules, one module per experiment: tidy table in, Verdict rows out.

Each rule module is its claims' quantity functions and declarations; the decision engine
(`engine.py`) widens, decides, combines and words them (issue 20). What the rules share
besides the engine lives here:

- `check_table` refuses impossible input (negative times, an interval that does not hold
  its own median, a NaN median with an interval) with a ValueError naming the table, the
  column and the row: bad input is never decided.
- `usable` drops points flagged `oversubscribed` (more workers than the node's usable cores)
  before anything is decided.
- `described`, `is_processes`, `is_threads` select rows by the descriptor columns.
- `cannot_test` / `undecided` when the machine cannot test the claim or nothing was
  measured that could decide it, with the reason as headline.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from coresweep import flags
from coresweep.analysis.verdicts.engine import (
    HEADLINE_MAX as HEADLINE_MAX,
)
from coresweep.analysis.verdicts.engine import (
    _finite,
    clip,
    default_threshold,
)
from coresweep.analysis.verdicts.engine import combine as combine
from coresweep.analysis.verdicts.engine import names as names
from coresweep.analysis.verdicts.engine import span as span
from coresweep.analysis.verdicts.record import Verdict
from coresweep.flags import Flag

#: protocol.difference_threshold's default (the schema holds it), for code outside the
#: decision engine that compares against it (advice)
THRESHOLD = default_threshold()

# --- bad input ----------------------------------------------------------------------------

#: columns that name a row in an error message, where a table has them
ROW_KEYS = ("kernel", "backend", "mode", "p", "size", "transport", "mechanism", "pin", "kind",
            "family", "variant", "split", "sharing", "state", "workers", "fault", "load",
            "threads")  # fmt: skip
_TOL = 1e-9


def _row_name(table: pd.DataFrame, idx: Any) -> str:
    keys = [f"{k}={table.at[idx, k]}" for k in ROW_KEYS if k in table.columns]
    return f"row {idx}" + (f" ({', '.join(keys[:4])})" if keys else "")


def _numeric(table: pd.DataFrame, name: str, col: str) -> pd.Series:
    values = pd.to_numeric(table[col], errors="coerce")
    bad = values.isna() & table[col].notna()
    if bad.any():
        idx = bad[bad].index[0]
        raise ValueError(
            f"{name} table, column {col!r}, {_row_name(table, idx)}: "
            f"{table.at[idx, col]!r} is not a number"
        )
    return values.astype(float)


#: the columns many tables share (Summary.time_columns, a speedup over serial): always checked
COMMON_INTERVALS = (
    ("time_median", "time_ci_lo", "time_ci_hi"),
    ("speedup", "speedup_ci_lo", "speedup_ci_hi"),
)
COMMON_NONNEGATIVE = ("time_median", "time_ci_lo", "speedup", "speedup_ci_lo")


Rule = Callable[[pd.DataFrame, str, float | None], list[Verdict]]


def rule(
    name: str,
    *,
    intervals: Iterable[tuple[str, str, str]] = (),
    nonnegative: Iterable[str] = (),
) -> Callable[[Rule], Rule]:
    """The frame of every experiment's verdict rule: an empty table decides nothing, and a
    table with impossible values (`check_table`) is refused before the rule reads it."""

    def frame(fn: Rule) -> Rule:
        @functools.wraps(fn)
        def run(table: pd.DataFrame, machine: str, threshold: float | None = None) -> list[Verdict]:
            if table.empty:
                return []
            check_table(table, name, intervals=intervals, nonnegative=nonnegative)
            return fn(table, machine, threshold)

        return run

    return frame


def check_table(
    table: pd.DataFrame,
    name: str,
    *,
    intervals: Iterable[tuple[str, str, str]] = (),
    nonnegative: Iterable[str] = (),
) -> None:
    """Refuse a table with impossible values: a ValueError naming the table, column and row.

    intervals: (estimate, lower, upper) column triples; each lower <= estimate <= upper, and
    an interval only with an estimate. nonnegative: columns that cannot be below zero (times,
    rates, speedups). The shared time and speedup columns are always checked; columns the
    table lacks are skipped (a rule that reads them fails on
    its own).
    """
    for col in (*COMMON_NONNEGATIVE, *nonnegative):
        if col in table.columns:
            v = _numeric(table, name, col)
            neg = v < 0
            if neg.any():
                idx = neg[neg].index[0]
                raise ValueError(
                    f"{name} table, column {col!r}, {_row_name(table, idx)}: negative value "
                    f"{v[idx]!r} is impossible"
                )
    for mid, lo, hi in (*COMMON_INTERVALS, *intervals):
        if not {mid, lo, hi} <= set(table.columns):
            continue
        m, a, b = (_numeric(table, name, c) for c in (mid, lo, hi))
        tol = _TOL * (m.abs().fillna(0) + 1)
        problems = (
            (m.isna() & (a.notna() | b.notna()), f"no {mid} (NaN) but an interval"),
            (m.notna() & (a.isna() != b.isna()), f"{lo}/{hi} has only one bound"),
            (a > m + tol, f"{lo} above {mid}"),
            (b < m - tol, f"{hi} below {mid}"),
        )
        for mask, what in problems:
            if mask.any():
                idx = mask[mask].index[0]
                raise ValueError(
                    f"{name} table, {_row_name(table, idx)}: {what} "
                    f"({lo}={a[idx]!r}, {mid}={m[idx]!r}, {hi}={b[idx]!r}); refusing to decide"
                )


# --- points and sides -------------------------------------------------------------------


def usable(table: pd.DataFrame) -> pd.DataFrame:
    """The points that may decide: those not flagged oversubscribed."""
    if "flags" not in table.columns or table.empty:
        return table
    return table[[not flags.has(f, Flag.OVERSUBSCRIBED) for f in table["flags"]]]


def clears(lo: float, hi: float, bar: float) -> bool | None:
    """True when the whole interval lies above the bar, False when below, None otherwise."""
    if not (_finite(lo) and _finite(hi)):
        return None
    if lo > bar:
        return True
    if hi < bar:
        return False
    return None


def ratio_interval(num: Sequence[float], den: Sequence[float]) -> tuple[float, float, float]:
    """num / den from two (estimate, lower, upper) intervals: the estimate and the widest
    ratio both intervals allow (independent sides, so conservative)."""
    (n, nlo, nhi), (d, dlo, dhi) = num, den
    return n / d, nlo / dhi, nhi / dlo


def all_of(calls: Iterable[bool | None]) -> bool | None:
    """True when every part holds, False as soon as one fails, None otherwise."""
    values = list(calls)
    if False in values:
        return False
    return None if None in values else True


# --- combining sub-cases ----------------------------------------------------------------------


def holding(results: Mapping[str, bool | None], value: bool | None) -> list[str]:
    return [k for k, v in results.items() if v is value]


# --- descriptors ------------------------------------------------------------------------------

#: the descriptor's facts as table columns (backends.base.Descriptor.columns(); a test keeps
#: the two in step): analysis reads them from the tables, it never imports the backends
DESCRIPTOR_COLUMNS = (
    "backend_isolation",
    "backend_shares_memory",
    "backend_arguments",
    "backend_pickler",
    "backend_start_method",
    "backend_supervision",
    "backend_gil_bound",
    "backend_batch",
    "backend_dispatch",
)


def described(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every descriptor column, as the table carries it (every experiment's
    table does: experiments.with_descriptors); a column a table lacks is empty, so its rows
    are selected by nothing. Analysis reads tables only: it never asks the backend registry."""
    missing = [c for c in DESCRIPTOR_COLUMNS if c not in table.columns]
    return table.assign(**{c: None for c in missing}) if missing else table


def is_processes(table: pd.DataFrame) -> Any:
    """Rows whose workers run in other processes than the caller's (any machine)."""
    return described(table).backend_isolation.isin(("process", "cluster")).to_numpy()


def is_threads(table: pd.DataFrame) -> Any:
    """Rows whose workers are threads of the caller's process."""
    return (described(table).backend_isolation == "thread").to_numpy()


# --- verdicts and headlines -------------------------------------------------------------------


def cannot_test(
    claims: Sequence[str],
    reason: str,
    conditions: str,
    experiment: str,
    plots: tuple[str, ...] = (),
    evidence: str = "",
) -> list[Verdict]:
    """inconclusive because this machine cannot test the claim: the reason is the headline."""
    return [
        Verdict(c, "inconclusive", evidence or reason, conditions, experiment, plots, clip(reason))
        for c in claims
    ]


def undecided(
    claim: str, reason: str, conditions: str, experiment: str, plots: tuple[str, ...] = ()
) -> Verdict:
    """inconclusive because nothing was measured that could decide: 'Not decided: reason'."""
    return Verdict(
        claim, "inconclusive", reason, conditions, experiment, plots, clip(f"Not decided: {reason}")
    )
