"""Load plots: p50/p99 latency and throughput vs offered load, threads vs processes, per kernel."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coresweep.analysis.verdicts.load import PLOT
from coresweep.report.plots import backend_colors, flagged, marker, save


def load_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Latency (log y) on top, throughput below; one column per kernel, a line per pool."""
    if table.empty:
        return []
    kernels = list(dict.fromkeys(table.kernel))
    fig, axes = plt.subplots(2, len(kernels), figsize=(5 * len(kernels), 7), squeeze=False)
    p = int(table.p.max())
    colors = backend_colors(table)
    for j, kernel in enumerate(kernels):
        sub = table[table.kernel == kernel]
        top, bottom = axes[0][j], axes[1][j]
        for backend, g in sub.groupby("backend", sort=False):
            g = g.sort_values("load")
            c, m = colors[str(backend)], marker(backend)
            top.plot(g.load, g.latency_p99, marker=m, color=c, label=f"{backend} p99")
            top.fill_between(
                g.load, g.latency_p99_ci_lo, g.latency_p99_ci_hi, color=c, alpha=0.15, lw=0
            )
            top.plot(g.load, g.latency_p50, marker=m, color=c, ls="--", label=f"{backend} p50")
            bottom.errorbar(
                g.load,
                g.throughput,
                yerr=np.clip(
                    [g.throughput - g.throughput_ci_lo, g.throughput_ci_hi - g.throughput], 0, None
                ),
                marker=m,
                color=c,
                capsize=2,
                label=backend,
            )
            bad = g[flagged(g)]
            top.scatter(bad.load, bad.latency_p99, s=80, facecolors="none", edgecolors="red")
        service = float(sub.service_s.median())
        cap = float(sub.capacity_per_core.median())
        top.axhline(service, color="grey", ls=":", label="service time (1 core)")
        loads = np.array(sorted(sub.load.unique()))
        bottom.plot(loads, loads * cap, color="grey", ls=":", label="offered")
        bottom.axhline(p * cap, color="grey", ls="-.", lw=0.8, label=f"{p} cores' capacity")
        top.set_yscale("log")
        top.set_ylabel("latency, arrival to completion (s)")
        top.set_title(f"{kernel} ({sub.kind.iloc[0]}), {service * 1e3:.3g} ms requests", fontsize=9)
        bottom.set_ylabel("throughput (requests/s, 95% CI)")
        for ax in (top, bottom):
            ax.set_xlabel("offered load (x one core's capacity)")
            ax.legend(fontsize=7)
    fig.suptitle(
        f"Open-loop request stream, p = {p} workers per pool on {machine}; red rings = flagged",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return [save(fig, outdir / PLOT)]
