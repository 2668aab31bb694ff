"""Context-switch figure: µs per switch and OS switches per round trip, pinned vs unpinned."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from coresweep.analysis.verdicts.context_switch import PLOT
from coresweep.report.plots import color, flagged, save

HATCH = {"pinned": "", "unpinned": "//"}


def _bars(ax: plt.Axes, table: pd.DataFrame, y: str, lo: str | None, hi: str | None) -> None:
    """Grouped bars: one group per mechanism, one bar per pin mode (hatched = unpinned)."""
    mechs = list(dict.fromkeys(table.mechanism))
    pins = sorted(table.pin.unique())
    width = 0.8 / len(pins)
    x = np.arange(len(mechs))
    for i, pin in enumerate(pins):
        g = table[table.pin == pin].set_index("mechanism").reindex(mechs)
        yerr = None
        if lo and hi:
            yerr = [(g[y] - g[lo]).to_numpy(), (g[hi] - g[y]).to_numpy()]
        ax.bar(
            x + (i - (len(pins) - 1) / 2) * width,
            g[y],
            width,
            yerr=yerr,
            color=[color(m) for m in mechs],
            hatch=HATCH.get(pin, ".."),
            edgecolor=["red" if f else "black" for f in flagged(g.fillna({"flags": ""}))],
        )
    ax.set_xticks(x, mechs, rotation=20, fontsize=8)


def context_switch_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """µs per switch with 95% CI, and the OS's voluntary + involuntary switches per round trip."""
    if table.empty:
        return []
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    _bars(a, table, "us_per_switch", "us_ci_lo", "us_ci_hi")
    a.set_ylabel("µs per switch (round trip / 2)")
    a.set_title("handoff cost with 95% CI; hatched = unpinned, red edge = flagged", fontsize=9)
    a.legend(
        handles=[
            Patch(facecolor="white", edgecolor="black", hatch=HATCH[p], label=p) for p in HATCH
        ],
        fontsize=8,
    )
    t = table.assign(switches=table.voluntary_per_round_trip + table.involuntary_per_round_trip)
    _bars(b, t, "switches", None, None)
    b.set_ylabel("OS context switches per round trip (vol + invol)")
    b.set_title("context switches counted by the OS (/proc)", fontsize=9)
    cpus = ", ".join(f"{p}: CPUs {c}" for p, c in table.groupby("pin").cpus.first().items())
    fig.suptitle(f"Thread vs process ping-pong ({cpus}) — {machine}", fontsize=10)
    fig.tight_layout()
    return [save(fig, outdir / PLOT)]
