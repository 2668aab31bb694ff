"""Scaling plots: speedup, efficiency and CPU utilisation vs p, per kernel, a line per backend.

Speedup and efficiency carry their 95% interval bands, the ideal line and the fitted
scaling model: Amdahl's law for strong scaling, Gustafson's for weak scaling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from coresweep.analysis.scaling_models import amdahl, fit_serial_fraction, gustafson
from coresweep.analysis.verdicts.scaling import SPEEDUP_PLOT, UTILIZATION_PLOT
from coresweep.report.plots import backend_colors, flagged, marker, save

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


@functools.lru_cache(maxsize=1024)
def _serial_fraction(ps: tuple[int, ...], speedups: tuple[float, ...], model: str) -> float:
    # cached: the speedup and the efficiency figure fit the same curves
    return fit_serial_fraction(ps, speedups, model=model)[0]


def model_curve(g: pd.DataFrame, mode: str, ps: np.ndarray, per_core: bool) -> np.ndarray | None:
    """The fitted Amdahl (strong) or Gustafson (weak) curve of one backend; None if unfit."""
    name, fn = MODELS[mode]
    f = _serial_fraction(tuple(g.p), tuple(g.speedup), name)
    if not np.isfinite(f):
        return None
    s = np.asarray(fn(ps, f), dtype=float)
    return s / ps if per_core else s


def _draw_panel(
    ax: plt.Axes, sub: pd.DataFrame, mode: str, pmax: int, panel: Panel, colors: dict[str, str]
) -> None:
    ps = np.arange(1, pmax + 1)
    dense = np.linspace(1, pmax, 25)
    ax.plot(ps, ps if panel.ideal == "p" else np.ones_like(ps), ":", color="grey", lw=1)
    # merged runs from several hosts: one line style per host, colours still per backend
    hosts = sorted(sub.host.unique()) if "host" in sub else []
    by = ["host", "backend"] if len(hosts) > 1 else ["backend"]
    for key, g in sub.groupby(by):
        backend = key[-1]
        style = HOST_STYLES[hosts.index(key[0]) % len(HOST_STYLES)] if len(by) > 1 else "-"
        g = g.sort_values("p")
        c = colors[backend]
        ax.plot(g.p, g[panel.y], style, marker=marker(backend), ms=4, color=c, lw=1.2)
        if panel.lo != panel.hi:
            ax.fill_between(g.p, g[panel.lo], g[panel.hi], color=c, alpha=0.2, linewidth=0)
        curve = model_curve(g, mode, dense, panel.ideal == "1") if panel.fit else None
        if curve is not None:
            ax.plot(dense, curve, "--", color=c, lw=0.9, alpha=0.8)
    bad = sub[flagged(sub)]
    if not bad.empty:
        ax.scatter(bad.p, bad[panel.y], s=70, facecolors="none", edgecolors="red", zorder=5)
    ax.set_xticks(ps)
    ax.set_xlabel("workers p (cores)")
    ax.set_ylabel(panel.ylabel)


def _legend(
    fig: plt.Figure, colors: dict[str, str], hosts: list[str], fit: bool, ncol: int
) -> None:
    handles = [
        Line2D([], [], color=c, marker=marker(b), ms=4, label=b) for b, c in sorted(colors.items())
    ]
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
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)


# Fixed margins in inches instead of tight_layout and a tight bounding box: the same
# result for this regular grid at a third of the drawing time.
PANEL_W, PANEL_H = 3.4, 2.5
LEFT, RIGHT, TOP, GAP_W, GAP_H = 0.75, 0.15, 0.6, 0.75, 0.85
XLABEL, LEGEND_ROW = 0.55, 0.2


def _grid(n_rows: int, n_cols: int, legend_rows: int) -> tuple[plt.Figure, np.ndarray]:
    bottom = XLABEL + 0.15 + LEGEND_ROW * legend_rows
    width = LEFT + RIGHT + n_cols * PANEL_W + (n_cols - 1) * GAP_W
    height = TOP + bottom + n_rows * PANEL_H + (n_rows - 1) * GAP_H
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=LEFT / width,
        right=1 - RIGHT / width,
        top=1 - TOP / height,
        bottom=bottom / height,
        wspace=GAP_W / PANEL_W,
        hspace=GAP_H / PANEL_H,
    )
    return fig, axes


def _per_kernel(table: pd.DataFrame, panel: Panel, title: str, path: Path) -> Path:
    kernels = sorted(table.kernel.unique())
    modes = [m for m in ("strong", "weak") if m in set(table["mode"])]
    hosts = sorted(table.host.unique()) if "host" in table else []
    entries = table.backend.nunique() + (len(hosts) if len(hosts) > 1 else 0) + 3
    ncol = max(2, min(6, int(len(kernels) * PANEL_W // 1.9)))
    fig, axes = _grid(len(modes), len(kernels), -(-entries // ncol))
    pmax = int(table.p.max())
    colors = backend_colors(table)
    for i, mode in enumerate(modes):
        for j, kernel in enumerate(kernels):
            sub = table[(table.kernel == kernel) & (table["mode"] == mode)]
            _draw_panel(axes[i][j], sub, mode, pmax, panel, colors)
            axes[i][j].set_title(f"{kernel} ({mode} scaling)", fontsize=9)
    _legend(fig, colors, hosts, panel.fit, ncol)
    fig.suptitle(title, fontsize=10, y=1 - 0.15 / fig.get_figheight())
    return save(fig, path, tight=False)


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
            SPEEDUP_PLOT,
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
            UTILIZATION_PLOT,
        ),
    )
    out = []
    for panel, title, name in figures:
        rows = table[table[panel.y].notna()]  # no serial baseline, no speedup
        if not rows.empty:
            out.append(_per_kernel(rows, panel, title, outdir / name))
    return out
