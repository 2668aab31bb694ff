"""Communication plots: round trip and bandwidth vs message size, log-log, a line per transport."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from coresweep.analysis.verdicts.communication import PLOT
from coresweep.report.plots import flagged, marker, save, shades
from coresweep.units import fmt_bytes


def transport_colors(table: pd.DataFrame) -> dict[str, str]:
    """Colours by the side a transport stands for (its `kind`, in the descriptors' isolation
    words): the thread hues for threads, the process hues for processes, a shade each."""
    pairs = table[["transport", "kind"]].drop_duplicates().itertuples(index=False)
    return shades((str(t), str(kind), None, True) for t, kind in pairs)


def _panel(ax: plt.Axes, table: pd.DataFrame, y: str, ylabel: str) -> None:
    colors = transport_colors(table)
    for transport, g in table.groupby("transport"):
        g = g.sort_values("size")
        c = colors[str(transport)]
        style = "-" if g.kind.iloc[0] == "thread" else "--"
        m = marker(str(transport))
        ax.plot(g["size"], g[y], style, marker=m, color=c, label=transport)
        ax.fill_between(g["size"], g[f"{y}_ci_lo"], g[f"{y}_ci_hi"], color=c, alpha=0.2, lw=0)
        bad = g[flagged(g)]
        ax.scatter(bad["size"], bad[y], s=80, facecolors="none", edgecolors="red", zorder=5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    sizes = sorted(table["size"].unique())
    ax.set_xticks(sizes, labels=[fmt_bytes(int(s)) for s in sizes], fontsize=8, rotation=30)
    ax.minorticks_off()
    ax.set_xlabel("message size")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")


def communication_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Round trip (µs) and bandwidth (GB/s) vs message size, with 95% CI bands."""
    if table.empty:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    _panel(axes[0], table, "rtt_us", "round trip (µs)")
    _panel(axes[1], table, "bandwidth_gbs", "bandwidth = size / half round trip (GB/s)")
    axes[1].annotate(
        "thread-queue passes a reference:\nno bytes move, so its line only grows",
        xy=(0.03, 0.97),
        xycoords="axes fraction",
        va="top",
        fontsize=7,
    )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8, frameon=False)
    fig.suptitle(
        f"Ping-pong by transport (solid = threads, dashed = processes; red rings = flagged) — "
        f"{int(table.cores.max())} core(s), {machine}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    return [save(fig, outdir / PLOT)]
