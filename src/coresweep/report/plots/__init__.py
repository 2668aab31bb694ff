"""Plot helpers shared by every experiment: one colour per backend, colour-blind safe (Okabe–Ito).

Each experiment draws its own figures in report/plots/<experiment>.py with these helpers.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

OKABE_ITO = [
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
]
BACKEND_COLORS = {
    "serial": OKABE_ITO[0],
    "threads": OKABE_ITO[1],
    "processes-fork": OKABE_ITO[2],
    "processes-forkserver": OKABE_ITO[3],
    "processes-spawn": OKABE_ITO[5],
    "dask-processes": OKABE_ITO[6],
    "dask-threads": OKABE_ITO[7],
    "numba-parallel": OKABE_ITO[4],
}
MARKERS = "osD^v<>ph*"


def color(name: str) -> str:
    """The colour of a backend (or any series name): stable across every plot."""
    if name in BACKEND_COLORS:
        return BACKEND_COLORS[name]
    return OKABE_ITO[sum(map(ord, name)) % len(OKABE_ITO)]


def marker(name: str) -> str:
    return MARKERS[sum(map(ord, name)) % len(MARKERS)]


# Text stays text (small files, searchable, crisp); a fixed salt makes the SVG ids
# reproducible, so the same table gives byte-identical plots.
SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "coresweep"}


def save(fig: plt.Figure, path: Path, tight: bool = True) -> Path:
    """Write fig as a lean SVG and close it.

    tight=False keeps the figure's own margins: one layout pass less, for figures with
    many panels that set their margins themselves (the report must build in seconds).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(SVG_RC):
        fig.savefig(
            path, format="svg", bbox_inches="tight" if tight else None, metadata={"Date": None}
        )
    plt.close(fig)
    return path


def flagged(df: pd.DataFrame) -> pd.Series:
    """Rows with any stability flag (drawn with a red ring)."""
    return df["flags"].fillna("").str.len() > 0
