"""Fault-outcome matrix: fault x backend, colour = outcome, text = other tasks done / detection."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from coresweep.analysis.verdicts.faults import PLOT
from coresweep.report.plots import OKABE_ITO, save

OUTCOME_COLORS = {
    "isolated": OKABE_ITO[3],  # green
    "others-lost": OKABE_ITO[4],  # yellow
    "pool-broken": OKABE_ITO[1],  # orange
    "hung": OKABE_ITO[7],  # pink
    "crashed": OKABE_ITO[6],  # vermillion
    "error": "#BBBBBB",
}


def _label(row: pd.Series) -> str:
    detect = "never" if np.isnan(row.detect_s) else f"{row.detect_s:.2f} s"
    rec = "recovered" if row.recovered else "no recovery"
    flag = "\n(flagged)" if row.flags else ""
    return f"{row.others_completed}/{row.others} done\n{detect}\n{rec}{flag}"


def _matrix(table: pd.DataFrame, path: Path, machine: str) -> Path:
    faults = list(dict.fromkeys(table.fault))
    backends = list(dict.fromkeys(table.backend))
    outcomes = list(OUTCOME_COLORS)
    grid = np.full((len(faults), len(backends)), np.nan)
    fig, ax = plt.subplots(figsize=(1.9 * len(backends) + 1.5, 1.0 * len(faults) + 1.8))
    for row in table.itertuples():
        i, j = faults.index(row.fault), backends.index(row.backend)
        grid[i, j] = outcomes.index(row.outcome)
        ax.text(j, i, _label(pd.Series(row._asdict())), ha="center", va="center", fontsize=7)
    ax.imshow(
        np.ma.masked_invalid(grid),
        cmap=ListedColormap(list(OUTCOME_COLORS.values())),
        vmin=-0.5,
        vmax=len(outcomes) - 0.5,
        aspect="auto",
    )
    # white lines between cells
    ax.set_xticks(np.arange(len(backends) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(faults) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="minor", length=0)
    ax.set_xticks(range(len(backends)), labels=backends, fontsize=8)
    ax.set_yticks(range(len(faults)), labels=faults, fontsize=8)
    ax.set_xlabel("pool (backend)")
    ax.set_ylabel("fault injected into one task")
    ax.legend(
        handles=[Patch(color=c, label=o) for o, c in OUTCOME_COLORS.items()],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=len(outcomes),
        fontsize=8,
        frameon=False,
    )
    first = table.iloc[0]
    ax.set_title(
        f"One faulty task among {first.tasks} ({first.workers} workers) on {machine}\n"
        f"text: other tasks done / time until the caller saw an error / fresh task afterwards; "
        f"worst-case run {table.run_s.max():.1f} s",
        fontsize=9,
    )
    fig.tight_layout()
    return save(fig, path)


def faults_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """The fault-outcome matrix."""
    if table.empty:
        return []
    return [_matrix(table, outdir / PLOT, machine)]
