"""Synchronization plots: lost-update rate and cost per increment per mechanism; deadlock detection."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coresweep.analysis.verdicts.synchronization import PLOT
from coresweep.report.plots import OKABE_ITO, color, flagged, save

#: Python mechanisms in warm colours, Numba in cool ones, the lock orders apart
MECHANISM_COLORS = {
    "python-inline": OKABE_ITO[1],
    "python-call": OKABE_ITO[6],
    "python-lock": OKABE_ITO[7],
    "numba-unsync": OKABE_ITO[2],
    "numba-partials": OKABE_ITO[5],
    "locks-opposite-order": OKABE_ITO[6],
    "locks-same-order": OKABE_ITO[3],
}


def _bars(ax: plt.Axes, rows: pd.DataFrame, y: np.ndarray, err: np.ndarray) -> None:
    x = np.arange(len(rows))
    colors = [MECHANISM_COLORS.get(m, color(m)) for m in rows.mechanism]
    ax.bar(x, y, yerr=np.clip(err, 0, None), color=colors, capsize=3)
    bad = flagged(rows).to_numpy()
    ax.scatter(x[bad], y[bad], s=90, facecolors="none", edgecolors="red", zorder=5)
    ax.set_xticks(x, labels=rows.mechanism, rotation=30, ha="right", fontsize=8)


def _lost(ax: plt.Axes, counters: pd.DataFrame) -> None:
    rate = 100 * counters.lost_rate.to_numpy()
    worst = 100 * counters.lost_rate_max.to_numpy() - rate
    _bars(ax, counters, rate, np.vstack([np.zeros_like(rate), worst]))
    ax.set_ylabel("lost updates (% of increments)")
    ax.set_title("Lost updates (bar: all calls; whisker: worst call)", fontsize=9)


def _cost(ax: plt.Axes, counters: pd.DataFrame) -> None:
    ns = counters.ns_per_op.to_numpy()
    ci = np.vstack([ns - counters.ns_per_op_ci_lo, counters.ns_per_op_ci_hi - ns])
    _bars(ax, counters, ns, ci)
    ax.set_yscale("log")
    ax.set_ylabel("wall time per increment (ns, log scale)")
    ax.set_title("Cost per increment, threads together (95% CI)", fontsize=9)


def _deadlock(ax: plt.Axes, locks: pd.DataFrame) -> None:
    ms = locks.detect_ms_median.fillna(0).to_numpy()
    top = locks.detect_ms_max.fillna(0).to_numpy() - ms
    _bars(ax, locks, ms, np.vstack([np.zeros_like(ms), top]))
    timeout = float(locks.lock_timeout_ms.max())
    ax.axhline(timeout, ls=":", color="grey", label=f"acquire timeout {timeout:.0f} ms")
    for i, row in enumerate(locks.itertuples()):
        ax.annotate(
            f"{int(row.deadlocks)}/{int(row.trials)} deadlocked\n{int(row.hung)} hung",
            (i, ms[i]),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 4),
            textcoords="offset points",
        )
    ax.set_ylim(0, 1.4 * max(timeout, float(ms.max())))
    ax.set_ylabel("time until the deadlock was detected (ms)")
    ax.set_title("Two threads, two locks (median; whisker: max)", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper right")


def synchronization_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """One figure, three panels: lost updates, ns per increment, deadlock detection time."""
    if table.empty:
        return []
    counters = table[table.kind == "counter"].reset_index(drop=True)
    locks = table[table.kind == "deadlock"].reset_index(drop=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    if not counters.empty:
        _lost(axes[0], counters)
        _cost(axes[1], counters)
    if not locks.empty:
        _deadlock(axes[2], locks)
    threads = int(counters.threads.max()) if not counters.empty else 2
    fig.suptitle(
        f"{threads} threads on one shared counter, CPython {table.python.iloc[0]} and Numba "
        f"nogil — {machine}; red rings = flagged",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return [save(fig, outdir / PLOT)]
