"""Single-thread cost of each kernel across interpreters: the free-threading overhead.

Read from the scaling table's serial baseline (seconds per unit of work, measured in the
job process of each interpreter). Each interpreter is shown against the first one listed
(the first in the table, which keeps the config's order), with the widest ratio both
intervals allow.
"""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.verdicts import ratio_interval

COLUMNS = ("serial_s_per_unit", "serial_s_per_unit_ci_lo", "serial_s_per_unit_ci_hi")


def single_thread_cost(scaling: pd.DataFrame) -> pd.DataFrame:
    """Per kernel and interpreter: serial seconds per unit [interval] and the ratio to the
    first interpreter [interval]; empty unless the table has two interpreters or more."""
    need = {"kernel", "interpreter", *COLUMNS}
    if scaling.empty or not need <= set(scaling.columns):
        return pd.DataFrame()
    t = scaling.dropna(subset=list(COLUMNS))
    order = list(dict.fromkeys(t.interpreter.astype(str)))
    if len(order) < 2:
        return pd.DataFrame()
    rows = []
    for kernel, g in t.groupby("kernel", sort=False):
        # every point of an interpreter measured the same baseline: the median row of them
        per = {i: g[g.interpreter.astype(str) == i] for i in order}
        per = {i: r.loc[r.serial_s_per_unit.sort_values().index[len(r) // 2]]
               for i, r in per.items() if not r.empty}  # fmt: skip
        first = next(iter(per.values()))
        for interp, r in per.items():
            ratio = ratio_interval(tuple(r[c] for c in COLUMNS), tuple(first[c] for c in COLUMNS))
            rows.append(
                {
                    "kernel": kernel,
                    "interpreter": interp,
                    "serial_s_per_unit": r.serial_s_per_unit,
                    "ci_lo": r.serial_s_per_unit_ci_lo,
                    "ci_hi": r.serial_s_per_unit_ci_hi,
                    "vs_first": ratio[0],
                    "vs_first_ci_lo": ratio[1],
                    "vs_first_ci_hi": ratio[2],
                }
            )
    return pd.DataFrame(rows)
