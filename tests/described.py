"""Test tables as the experiments write them: with each row's backend descriptor as columns.

Analysis reads the descriptor columns (backend_isolation, ...) from the tables and never asks
the backend registry, so a hand-made table must carry them, as `build_table` adds them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from coresweep.backends import BACKENDS

#: the descriptor column names, in order
COLUMNS = list(next(iter(BACKENDS.values())).descriptor.columns())


def describe(
    table: pd.DataFrame, like: Mapping[str, str] | None = None, key: str = "backend"
) -> pd.DataFrame:
    """The table with the descriptor of each row's backend (the `key` column) as columns.

    like: names a test invents (an old or a user's backend) -> the registered backend whose
    descriptor they take. Rows of no registered backend get empty columns.
    """
    like = like or {}
    t = table.copy()
    names = [like.get(str(b), str(b)) for b in t[key]]
    for col in COLUMNS:
        t[col] = [BACKENDS[n].descriptor.columns()[col] if n in BACKENDS else None for n in names]
    return t


def columns_of(backend: str, like: Mapping[str, str] | None = None) -> dict[str, object]:
    """One row's descriptor columns: those of `backend` (or of the registered backend it is
    `like`); empty for a name that is no registered backend (serial "none", an idle row)."""
    name = (like or {}).get(backend, backend)
    if name in BACKENDS:
        return BACKENDS[name].descriptor.columns()
    return dict.fromkeys(COLUMNS)
