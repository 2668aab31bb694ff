"""Hybrid heatmap: speedup over the processes x threads grid, inner pools limited vs unlimited."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coresweep.analysis.verdicts.hybrid import PLOT
from coresweep.report.plots import save

VARIANTS = ("limited", "unlimited")


def _grid(g: pd.DataFrame, ps: list[int], ts: list[int], column: str) -> np.ndarray:
    m = np.full((len(ps), len(ts)), np.nan)
    for r in g.itertuples():
        m[ps.index(r.processes), ts.index(r.threads_per_process)] = getattr(r, column)
    return m


def hybrid_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """One row per family, limited and unlimited side by side; cell = speedup vs serial."""
    if table.empty:
        return []
    grid = table[table.variant.isin(VARIANTS)]
    families = list(dict.fromkeys(grid.family))
    ps = sorted(grid.processes.unique())
    ts = sorted(grid.threads_per_process.unique())
    cores = int(table.cores.max())
    fig, axes = plt.subplots(
        len(families),
        2,
        figsize=(4.4 * 2, 1.4 + 1.6 * len(ps) * len(families)),
        squeeze=False,
        layout="constrained",
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    image = None
    for i, family in enumerate(families):
        for j, variant in enumerate(VARIANTS):
            ax = axes[i][j]
            g = grid[(grid.family == family) & (grid.variant == variant)]
            speed = _grid(g, ps, ts, "speedup")
            wall = _grid(g, ps, ts, "time_median")
            total = _grid(g, ps, ts, "threads_total")
            image = ax.imshow(np.ma.masked_invalid(speed), cmap=cmap, vmin=0, vmax=cores)
            for (a, b), s in np.ndenumerate(speed):
                if np.isnan(s):
                    ax.text(b, a, "—", ha="center", va="center", color="grey")
                    continue
                text = f"S={s:.2f}\n{wall[a, b]:.3f} s\n{total[a, b]:.0f} threads"
                ink = "black" if s > 0.6 * cores else "white"  # readable on viridis
                ax.text(b, a, text, ha="center", va="center", fontsize=7, color=ink)
            ax.set_xticks(range(len(ts)), [str(t) for t in ts])
            ax.set_yticks(range(len(ps)), [str(p) for p in ps])
            ax.set_xlabel("threads per process T")
            ax.set_ylabel("processes P")
            kernel = g.kernel.iloc[0] if not g.empty else ""
            ax.set_title(f"{family} ({kernel})\ninner pools {variant}", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="speedup vs serial")
    fig.suptitle(
        f"Processes x threads at P·T = {cores} cores on {machine}\n"
        "cell: speedup, median wall time, total threads (grey: no such split)",
        fontsize=9,
    )
    return [save(fig, outdir / PLOT)]
