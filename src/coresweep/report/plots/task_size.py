"""Task-size plots: speedup vs task size with crossovers, and start / per-task costs per backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coresweep.analysis.verdicts.task_size import DASK_DOCUMENTED, PLOT, summary
from coresweep.crossover import INTERPOLATED
from coresweep.report.plots import backend_colors, flagged, marker, save


def pools(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of backends with workers to start and feed: all but the inline loop."""
    if "backend_isolation" not in table.columns:
        return table
    return table[table.backend_isolation != "inline"]


def _speedup(table: pd.DataFrame, path: Path, title: str) -> Path:
    lad = pools(table[table.level == "ladder"])
    colors = backend_colors(lad)
    kernels = list(dict.fromkeys(lad.kernel))
    fig, axes = plt.subplots(1, len(kernels), figsize=(5 * len(kernels), 3.8), squeeze=False)
    for ax, kernel in zip(axes[0], kernels, strict=True):
        sub = lad[lad.kernel == kernel]
        ax.axhline(1.0, color="grey", linestyle=":", label="serial (1.0)")
        for backend, g in sub.groupby("backend", sort=False):
            g = g.sort_values("task_seconds")
            c = colors[str(backend)]
            ax.plot(g.task_seconds, g.speedup, marker=marker(backend), color=c, label=backend)
            ax.fill_between(
                g.task_seconds, g.speedup_ci_lo, g.speedup_ci_hi, color=c, alpha=0.2, lw=0
            )
            bad = g[flagged(g)]
            ax.scatter(bad.task_seconds, bad.speedup, s=80, facecolors="none", edgecolors="red")
            first = g.iloc[0]
            if first.crossover_status == INTERPOLATED:
                ax.axvline(first.crossover_s, color=c, linestyle="--", linewidth=0.8)
                ax.plot([first.crossover_s], [1.0], marker="|", markersize=14, color=c)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{kernel} ({sub.kind.iloc[0]})", fontsize=9)
        ax.set_xlabel("task size (s of serial work per task)")
        ax.set_ylabel("speedup vs serial (95% CI)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 0.93))
    return save(fig, path)


def _costs(table: pd.DataFrame, path: Path, title: str) -> Path:
    s = pools(summary(table))
    backends = list(dict.fromkeys(s.backend))
    kernels = list(dict.fromkeys(s.kernel))
    x = np.arange(len(backends))
    by_backend = backend_colors(s)
    colors = [by_backend[b] for b in backends]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    # a pool starts once per backend and job, warm for every kernel
    starts = s.groupby("backend").first().reindex(backends)
    ax1.bar(x, starts.start_first_s, 0.6, color=colors)
    ax1.scatter(x, starts.start_s, color="black", s=10, zorder=3, label="median of starts")
    width = 0.8 / max(1, len(kernels))
    for j, kernel in enumerate(kernels):
        sub = s[s.kernel == kernel].set_index("backend").reindex(backends)
        off = x - 0.4 + width * (j + 0.5)
        err = np.vstack(
            [
                sub.overhead_task_s - sub.overhead_task_ci_lo,
                sub.overhead_task_ci_hi - sub.overhead_task_s,
            ]
        )
        ax2.errorbar(
            off, sub.overhead_task_s, yerr=np.clip(err, 0, None), fmt="none", ecolor="grey"
        )
        ax2.scatter(
            off, sub.overhead_task_s, c=colors, marker="os^D"[j % 4], label=kernel, zorder=3
        )
    lo, hi = DASK_DOCUMENTED
    ax2.axhspan(lo, hi, color="grey", alpha=0.15, label="Dask docs: 200 µs – 1 ms")
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(backends, rotation=30, ha="right", fontsize=8)
    ax1.set_ylabel("cold start (s)")
    ax1.set_title("pool / cluster start up to warm workers (first start)", fontsize=9)
    ax1.legend(fontsize=7)
    ax2.set_ylabel("warm overhead per empty task (s)")
    ax2.set_title("per-task overhead (median, 95% CI), marker = kernel", fontsize=9)
    ax2.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save(fig, path)


def task_size_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Speedup vs task size (crossovers dashed) and start / overhead costs per backend."""
    if table.empty:
        return []
    where = f"p = {int(table.p.max())} workers on {machine}"
    return [
        _speedup(
            table,
            outdir / PLOT,
            f"Speedup vs task size (fixed total work); dashed = crossover — {where}",
        ),
        _costs(
            table, outdir / "task_size_costs.svg", f"Cold start and warm per-task cost — {where}"
        ),
    ]
