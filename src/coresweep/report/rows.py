"""Name the rows of any experiment's table: the point id plus what tells its rows apart."""

from __future__ import annotations

import pandas as pd

#: string columns that describe a measurement, not which measurement it is
NOT_KEYS = frozenset(
    {"flags", "provenance_hash", "stopped_on", "unit", "check_detail", "kind", "inner"}
)


def _is_label_column(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s) or pd.api.types.is_bool_dtype(s)


def _hashable(s: pd.Series) -> bool:
    return all(isinstance(v, str | int | float | bool) or v is None for v in s.head(20))


def row_keys(table: pd.DataFrame) -> list[str]:
    """The fewest columns, starting with `point`, that tell every row apart.

    Without a `point` column, every label-like column (plus `p`) is the key.
    """
    candidates = [
        c
        for c in table.columns
        if c not in NOT_KEYS and c != "point" and _is_label_column(table[c]) and _hashable(table[c])
    ]
    if "point" not in table:
        keys = [c for c in candidates + ["p"] if c in table]
        return keys or list(table.columns[:1])
    keys = ["point"]
    for c in candidates:
        if not table.duplicated(keys).any():
            break
        if table.duplicated(keys + [c]).sum() < table.duplicated(keys).sum():
            keys.append(c)
    return keys


def row_labels(table: pd.DataFrame, keys: list[str]) -> pd.Series:
    """'point · mode' style labels, one per row."""
    if not keys:
        return pd.Series([str(i) for i in range(len(table))], index=table.index)
    return table[keys].astype(str).agg(" · ".join, axis=1)
