"""Scaling plots: speedup, efficiency and CPU utilisation vs p, per kernel, a line per backend.

Speedup and efficiency carry their 95% interval bands, the ideal line and the fitted
scaling model: Amdahl's law for strong scaling, Gustafson's for weak scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from coresweep.analysis.scaling_models import amdahl, fit_serial_fraction, gustafson
from coresweep.report.plots import color, flagged, marker, save

MODELS = {"strong": ("amdahl", amdahl), "weak": ("gustafson", gustafson)}
HOST_STYLES = ("-", "-.", (0, (5, 1)), (0, (1, 1, 3, 1)))


@dataclass(frozen=True)
class Panel:
    """What one figure shows: a column, its band, its axis label and its ideal."""

    y: str
    lo: str
    hi: str
    ylabel: str
    ideal: str  # "p" (ideal speedup) or "1" (ideal efficiency)
    fit: bool  # draw the fitted scaling model (speedup and efficiency only)


def model_curve(g: pd.DataFrame, mode: str, ps: np.ndarray, per_core: bool) -> np.ndarray | None:
    """The fitted Amdahl (strong) or Gustafson (weak) curve of one backend; None if underdetermined."""
    name, fn = MODELS[mode]
    f, _ = fit_serial_fraction(g.p.to_numpy(), g.speedup.to_numpy(), model=name)
    if not np.isfinite(f):
        return None
    s = np.asarray(fn(ps, f), dtype=float)
    return s / ps if per_core else s


def _draw_panel(ax: plt.Axes, sub: pd.DataFrame, mode: str, pmax: int, panel: Panel) -> None:
    ps = np.arange(1, pmax + 1)
    dense = np.linspace(1, pmax, 50)
    ax.plot(ps, ps if panel.ideal == "p" else np.ones_like(ps), ":", color="grey", lw=1)
    # merged runs from several hosts: one line style per host, colours still per backend
    hosts = sorted(sub.host.unique()) if "host" in sub else []
    by = ["host", "backend"] if len(hosts) > 1 else ["backend"]
    for key, g in sub.groupby(by):
        backend = key[-1]
        style = HOST_STYLES[hosts.index(key[0]) % len(HOST_STYLES)] if len(by) > 1 else "-"
        g = g.sort_values("p")
        c = color(backend)
        ax.plot(g.p, g[panel.y], style, marker=marker(backend), ms=4, color=c, lw=1.2)
        if panel.lo != panel.hi:
            ax.fill_between(g.p, g[panel.lo], g[panel.hi], color=c, alpha=0.2, linewidth=0)
        curve = model_curve(g, mode, dense, panel.ideal == "1") if panel.fit else None
        if curve is not None:
            ax.plot(dense, curve, "--", color=c, lw=0.9, alpha=0.8)
        bad = g[flagged(g)]
        ax.scatter(bad.p, bad[panel.y], s=70, facecolors="none", edgecolors="red", zorder=5)
    ax.set_xticks(ps)
    ax.set_xlabel("workers p (cores)")
    ax.set_ylabel(panel.ylabel)


def _legend(fig: plt.Figure, backends: list[str], hosts: list[str], fit: bool) -> None:
    handles = [Line2D([], [], color=color(b), marker=marker(b), ms=4, label=b) for b in backends]
    if len(hosts) > 1:
        handles += [
            Line2D([], [], ls=HOST_STYLES[i % len(HOST_STYLES)], color="black", label=h)
            for i, h in enumerate(hosts)
        ]
    handles.append(Line2D([], [], ls=":", color="grey", label="ideal"))
    if fit:
        handles.append(
            Line2D([], [], ls="--", color="grey", label="fit: Amdahl (strong), Gustafson (weak)")
        )
    handles.append(
        Line2D([], [], ls="", marker="o", mfc="none", mec="red", ms=8, label="flagged point")
    )
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)


def _per_kernel(table: pd.DataFrame, panel: Panel, title: str, path: Path) -> Path:
    kernels = sorted(table.kernel.unique())
    modes = [m for m in ("strong", "weak") if m in set(table["mode"])]
    fig, axes = plt.subplots(
        len(modes),
        len(kernels),
        figsize=(3.4 * len(kernels), 2.9 * len(modes) + 1.0),
        squeeze=False,
    )
    pmax = int(table.p.max())
    for i, mode in enumerate(modes):
        for j, kernel in enumerate(kernels):
            sub = table[(table.kernel == kernel) & (table["mode"] == mode)]
            _draw_panel(axes[i][j], sub, mode, pmax, panel)
            axes[i][j].set_title(f"{kernel} ({mode} scaling)", fontsize=9)
    hosts = sorted(table.host.unique()) if "host" in table else []
    _legend(fig, sorted(table.backend.unique()), hosts, panel.fit)
    fig.suptitle(title, fontsize=10)
    legend_rows = -(-(table.backend.nunique() + len(hosts) + 3) // 4)  # four entries a row
    fig.tight_layout(rect=(0, 0.04 + 0.035 * legend_rows, 1, 0.96))
    return save(fig, path)


def scaling_plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    """Speedup, efficiency and CPU utilisation vs p, per kernel, a line per backend."""
    if table.empty:
        return []
    where = f"p = 1..{int(table.p.max())} on {machine}"
    figures = (
        (
            Panel(
                "speedup", "speedup_ci_lo", "speedup_ci_hi", "speedup S(p) vs serial (×)", "p", True
            ),
            f"Speedup with 95% CI bands — {where}",
            "scaling_speedup.svg",
        ),
        (
            Panel(
                "efficiency", "efficiency_ci_lo", "efficiency_ci_hi", "efficiency S(p)/p", "1", True
            ),
            f"Parallel efficiency with 95% CI bands — {where}",
            "scaling_efficiency.svg",
        ),
        (
            Panel(
                "busy_cores", "busy_cores", "busy_cores", "busy cores (CPU s / wall s)", "p", False
            ),
            f"CPU utilisation — {where}",
            "scaling_utilization.svg",
        ),
    )
    out = []
    for panel, title, name in figures:
        rows = table[table[panel.y].notna()]  # no serial baseline, no speedup
        if not rows.empty:
            out.append(_per_kernel(rows, panel, title, outdir / name))
    return out
