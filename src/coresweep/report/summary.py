"""results/summary.md: the verdicts and the quality of the numbers, in a page of Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from coresweep.report.build import ReportInputs


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_none_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def render_summary(inputs: ReportInputs, claims: pd.DataFrame, quality: pd.DataFrame) -> str:
    parts = [
        "# coresweep summary\n",
        f"Machine: {inputs.machine}\n",
        "## Claims\n",
        _md_table(claims[["claim", "verdict", "evidence", "conditions"]]),
        "## Measurement quality\n",
        _md_table(quality),
    ]
    if inputs.missing:
        parts.append(f"\nNot run (no table): {', '.join(inputs.missing)}\n")
    return "\n".join(parts)
