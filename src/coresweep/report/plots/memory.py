"""Memory plots: total PSS/USS of the process tree vs workers, and MiB per extra worker."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coresweep.analysis.verdicts.memory import PLOT
from coresweep.report.plots import backend_colors, flagged, marker, save

LINESTYLES = {"none": "-", "copied": "--", "inherited": ":", "shm": "-."}
METRICS = {"pss": "PSS", "pss_data": "data PSS (anon + shm)", "uss": "USS"}


def _title(table: pd.DataFrame, what: str, machine: str) -> str:
    ns = sorted(table.workers.unique())
    return (
        f"{what} — N = {ns[0]}..{ns[-1]} workers on {int(table.cores.max())} cores, "
        f"{machine}; input {table.input_mib.max():.0f} MiB"
    )


def _tree_plot(table: pd.DataFrame, path: Path, machine: str) -> Path:
    states = [s for s in ("idle", "working") if s in set(table.state)]
    fig, axes = plt.subplots(len(states), 3, figsize=(15, 3.8 * len(states)), squeeze=False)
    colors = backend_colors(table)
    for i, state in enumerate(states):
        for j, (metric, label) in enumerate(METRICS.items()):
            ax = axes[i][j]
            sub = table[table.state == state]
            for (backend, sharing), g in sub.groupby(["backend", "sharing"]):
                g = g.sort_values("workers")
                ax.plot(
                    g.workers,
                    g[f"{metric}_mib"],
                    LINESTYLES[sharing],
                    marker=marker(backend),
                    color=colors[backend],
                    label=f"{backend} / {sharing}",
                )
                bad = g[flagged(g)]
                ax.scatter(
                    bad.workers, bad[f"{metric}_mib"], s=90, facecolors="none", edgecolors="red"
                )
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(sub.workers.unique()), labels=sorted(sub.workers.unique()))
            ax.set_xlabel("workers N")
            ax.set_ylabel("process tree total (MiB)")
            ax.set_title(f"{state} workers, {label}", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle(_title(table, "Memory vs workers (red rings = flagged)", machine), fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.96))
    return save(fig, path)


def _per_worker_plot(table: pd.DataFrame, path: Path, machine: str) -> Path:
    fits = table.drop_duplicates(["backend", "sharing", "state"])
    groups = fits[["backend", "sharing"]].drop_duplicates().values.tolist()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(groups) + 1.5))
    colors = backend_colors(table)
    y = np.arange(len(groups))
    for k, state in enumerate(("idle", "working")):
        sub = fits[fits.state == state].set_index(["backend", "sharing"])
        for i, (backend, sharing) in enumerate(groups):
            if (backend, sharing) not in sub.index:
                continue
            row = sub.loc[(backend, sharing)]
            mid = row.pss_data_per_worker_mib
            lo, hi = row.pss_data_per_worker_ci_lo, row.pss_data_per_worker_ci_hi
            err = None if np.isnan(lo) else [[mid - lo], [hi - mid]]
            ax.errorbar(
                mid,
                y[i] + (0.15 if k else -0.15),
                xerr=err,
                fmt="o" if state == "idle" else "s",
                color=colors[backend],
                mfc="white" if state == "working" else colors[backend],
                capsize=3,
                label=state if i == 0 else None,
            )
    ax.set_yticks(y, labels=[f"{b} / {s}" for b, s in groups], fontsize=8)
    ax.set_xscale("symlog", linthresh=1)
    top = np.nanmax(fits[["pss_data_per_worker_mib", "pss_data_per_worker_ci_hi"]].to_numpy())
    ax.set_xlim(-1, max(10.0, 2 * top))
    ax.set_xlabel(
        "data PSS per extra worker (MiB; slope over N, 95% CI; filled = idle, open = working)"
    )
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(_title(table, "Memory per extra worker", machine), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def memory_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Tree memory vs N (a line per backend / sharing mode) and the per-worker slopes."""
    if table.empty:
        return []
    return [
        _tree_plot(table, outdir / "memory_tree.svg", machine),
        _per_worker_plot(table, outdir / PLOT, machine),
    ]
