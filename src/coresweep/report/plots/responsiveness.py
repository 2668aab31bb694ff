"""Responsiveness figure: probe latency ECDF per background mode, and latency vs switch interval."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coresweep.analysis.verdicts.responsiveness import PLOT
from coresweep.report.plots import backend_colors, flagged, marker, save


def _idle(table: pd.DataFrame) -> pd.Series:
    """The idle rows: each job's baseline, whose mode is not the busy mode it is paired with."""
    return table["mode"] != table["paired_with"]


def _ecdf(ax: plt.Axes, table: pd.DataFrame) -> None:
    """Latency distributions at the default switch interval; idle ("none") averaged over jobs."""
    default = table.default_switch_interval_ms.iloc[0]
    at_default = table[table.switch_interval_ms == default]
    colors = backend_colors(table, key="mode")  # a mode is its backend's colour
    for mode, g in at_default.groupby("mode", sort=False):
        pct = np.mean(np.stack([np.asarray(p) for p in g.percentiles_ms]), axis=0)
        levels = np.linspace(0, 1, pct.size)
        ax.step(np.maximum(pct, 1e-3), levels, where="post", color=colors[str(mode)], label=mode)
    period = table.probe_period_ms.iloc[0]
    ax.axvline(period, ls=":", color="grey", label=f"probe period {period:g} ms")
    ax.axhline(0.99, ls="--", lw=0.6, color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("request latency (ms, log)")
    ax.set_ylabel("fraction of requests answered")
    ax.set_title(f"latency ECDF at switch interval {default:g} ms", fontsize=9)
    ax.legend(fontsize=7)


def _vs_interval(ax: plt.Axes, table: pd.DataFrame) -> None:
    """p99 (solid, with CI) and p50 (dashed) vs the GIL switch interval, per background mode."""
    busy = table[~_idle(table)]
    colors = backend_colors(table, key="mode")
    for mode, g in busy.groupby("mode", sort=False):
        g = g.sort_values("switch_interval_ms")
        c = colors[str(mode)]
        yerr = [g.p99_ms - g.p99_ci_lo_ms, g.p99_ci_hi_ms - g.p99_ms]
        ax.errorbar(
            g.switch_interval_ms,
            g.p99_ms,
            yerr=yerr,
            color=c,
            marker=marker(str(mode)),
            label=f"{mode} p99",
        )
        ax.plot(g.switch_interval_ms, g.p50_ms, ls="--", color=c, marker=".", label=f"{mode} p50")
        bad = g[flagged(g)]
        ax.scatter(
            bad.switch_interval_ms, bad.p99_ms, s=90, facecolors="none", edgecolors="red", zorder=5
        )
    idle = table[_idle(table)]
    if not idle.empty:
        name = str(idle["mode"].iloc[0])
        ax.axhline(
            idle.p99_ms.median(),
            color=colors[name],
            ls=":",
            label=f"{name} (idle) p99, median of jobs",
        )
    xs = np.sort(busy.switch_interval_ms.unique())
    ax.plot(xs, xs, color="grey", lw=0.8, ls="-.", label="y = switch interval")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sys.setswitchinterval (ms, log)")
    ax.set_ylabel("probe latency (ms, log)")
    ax.set_title("latency vs GIL switch interval (red rings = flagged)", fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="center right")


def responsiveness_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """One figure, two panels: latency distributions, and latency vs switch interval."""
    if table.empty:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    _ecdf(axes[0], table)
    _vs_interval(axes[1], table)
    workers = int(table.workers.max())
    fig.suptitle(
        f"Probe latency with p = {workers} background workers (= granted cores) — {machine}",
        fontsize=10,
    )
    fig.tight_layout()
    return [save(fig, outdir / PLOT)]
