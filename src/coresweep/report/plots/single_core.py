"""Single-CPU figure: throughput and per-task latency vs thread count, a line per work kind."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from coresweep.analysis.verdicts.single_core import PLOT
from coresweep.report.plots import color, flagged, marker, save


def _panel(ax: plt.Axes, table: pd.DataFrame, y: str, lo: str | None, hi: str | None) -> None:
    for kind, g in table.groupby("kind"):
        g = g.sort_values("threads")
        c = color(str(kind))
        ax.plot(g.threads, g[y], marker=marker(str(kind)), color=c, label=kind)
        if lo and hi:
            ax.fill_between(g.threads, g[lo], g[hi], color=c, alpha=0.2, linewidth=0)
        bad = g[flagged(g)]
        ax.scatter(bad.threads, bad[y], s=90, facecolors="none", edgecolors="red", zorder=5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = sorted(table.threads.unique())
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("threads (all on one CPU)")


def single_core_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Throughput (with 95% CI) and per-task latency p50 (solid) / p99 (dotted) vs threads."""
    if table.empty:
        return []
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    _panel(a, table, "throughput", "throughput_ci_lo", "throughput_ci_hi")
    a.set_ylabel("throughput (tasks/s, log)")
    a.set_title("throughput with 95% CI (red rings = flagged)", fontsize=9)
    a.legend(fontsize=8)
    _panel(b, table, "latency_p50_ms", None, None)
    for kind, g in table.groupby("kind"):
        g = g.sort_values("threads")
        b.plot(g.threads, g.latency_p99_ms, ls=":", color=color(str(kind)))
    b.set_ylabel("per-task latency (ms, log)")
    b.set_title("per-task latency: p50 solid, p99 dotted", fontsize=9)
    cpu = int(table.cpu.iloc[0])
    tmax = int(table.threads.max())
    fig.suptitle(f"One CPU (pinned to CPU {cpu}), 1..{tmax} threads — {machine}", fontsize=10)
    fig.tight_layout()
    return [save(fig, outdir / PLOT)]
