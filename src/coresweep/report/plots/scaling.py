"""Scaling plots: speedup, efficiency and CPU utilisation vs p, per kernel, a line per backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coresweep.report.plots import color, flagged, marker, save


def _per_kernel(
    table: pd.DataFrame, y: str, lo: str, hi: str, ylabel: str, ideal: str, title: str, path: Path
) -> Path:
    kernels = sorted(table.kernel.unique())
    modes = [m for m in ("strong", "weak") if m in set(table["mode"])]
    fig, axes = plt.subplots(
        len(modes), len(kernels), figsize=(3.6 * len(kernels), 3.2 * len(modes)), squeeze=False
    )
    pmax = int(table.p.max())
    for i, mode in enumerate(modes):
        for j, kernel in enumerate(kernels):
            ax = axes[i][j]
            sub = table[(table.kernel == kernel) & (table["mode"] == mode)]
            ps = np.arange(1, pmax + 1)
            ax.plot(ps, ps if ideal == "p" else np.ones_like(ps), ":", color="grey", label="ideal")
            for backend, g in sub.groupby("backend"):
                g = g.sort_values("p")
                c = color(backend)
                ax.plot(g.p, g[y], marker=marker(backend), color=c, label=backend)
                ax.fill_between(g.p, g[lo], g[hi], color=c, alpha=0.2, linewidth=0)
                bad = g[flagged(g)]
                ax.scatter(bad.p, bad[y], s=90, facecolors="none", edgecolors="red", zorder=5)
            ax.set_title(f"{kernel} ({mode})", fontsize=9)
            ax.set_xlabel("workers p (cores)")
            ax.set_ylabel(ylabel)
            ax.set_xticks(ps)
    handles, labels = axes[0][0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=False))
    for ax_row in axes:
        for ax in ax_row:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=False):
                uniq.setdefault(lab, h)
    fig.legend(uniq.values(), uniq.keys(), loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return save(fig, path)


def scaling_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Speedup, efficiency and CPU utilisation vs p, per kernel, a line per backend."""
    if table.empty:
        return []
    cores = f"p = 1..{int(table.p.max())} on {machine}; red rings = flagged points"
    return [
        _per_kernel(
            table,
            "speedup",
            "speedup_ci_lo",
            "speedup_ci_hi",
            "speedup vs serial",
            "p",
            f"Speedup with 95% CI — {cores}",
            outdir / "scaling_speedup.svg",
        ),
        _per_kernel(
            table,
            "efficiency",
            "efficiency_ci_lo",
            "efficiency_ci_hi",
            "efficiency S/p",
            "1",
            f"Parallel efficiency — {cores}",
            outdir / "scaling_efficiency.svg",
        ),
        _per_kernel(
            table,
            "busy_cores",
            "busy_cores",
            "busy_cores",
            "busy cores (CPU s / wall s)",
            "p",
            f"CPU utilisation — {cores}",
            outdir / "scaling_utilization.svg",
        ),
    ]
