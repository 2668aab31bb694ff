"""Plot helpers shared by every experiment: colours by what a backend is, colour-blind safe.

A backend's colour comes from its descriptor columns, never its name: one hue family per
kind of worker (Okabe–Ito hues), one shade per start method, so a newly registered backend
gets a fitting colour with no change here. Each experiment draws its own figures in
report/plots/<experiment>.py with these helpers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402

from coresweep.costs import process_start_methods  # noqa: E402

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
#: hue family by (isolation, GIL-bound): the plain loop black, threads under one GIL orange,
#: threads without it vermillion, subinterpreters purple, processes blue, a cluster green
FAMILIES = {
    ("inline", True): OKABE_ITO[0],
    ("thread", True): OKABE_ITO[1],
    ("thread", False): OKABE_ITO[6],
    ("interpreter", True): OKABE_ITO[7],
    ("process", True): OKABE_ITO[5],
    ("cluster", True): OKABE_ITO[3],
}
#: shade bands, light to dark, by start method: the process start methods of the one cost
#: table (coresweep.costs), in its order; "none" and the subinterpreter share the whole range
START_SHADES = process_start_methods()
SHADE = 0.45  # at most this far towards white (lighter) or black (darker)
MARKERS = "osD^v<>ph*"


def color(name: str) -> str:
    """The colour of a series that no descriptor describes (a mechanism, a kernel kind):
    stable across every plot. Backends get theirs from backend_colors."""
    return OKABE_ITO[sum(map(ord, name)) % len(OKABE_ITO)]


def _family(isolation: str, gil_bound: Any) -> str:
    bound = True if isolation != "thread" else bool(gil_bound) and not _missing(gil_bound)
    return FAMILIES.get((isolation, bound), "#777777")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _shaded(hex_color: str, t: float) -> str:
    """t > 0: that far towards white; t < 0: towards black."""
    rgb = to_rgb(hex_color)
    mixed = [c + (1 - c) * t if t > 0 else c * (1 + t) for c in rgb]
    return to_hex(mixed)


def shades(series: Iterable[tuple[str, str, Any, Any]]) -> dict[str, str]:
    """name -> colour for (name, isolation, start_method, gil_bound) series.

    The hue family comes from isolation (and GIL-bound for threads), the shade from the start
    method's band; series that share a family and a band are spread evenly over it, in name
    order, so no two lines of one figure share a colour.
    """
    groups: dict[tuple[str, int], list[str]] = {}
    family: dict[str, str] = {}
    for name, isolation, start, gil in series:
        family[name] = _family(str(isolation), gil)
        band = START_SHADES.index(start) if start in START_SHADES else -1
        groups.setdefault((family[name], band), []).append(name)
    out = {}
    for (hue, band), names in groups.items():
        lo, width = (0.0, 1.0) if band < 0 else (band / len(START_SHADES), 1 / len(START_SHADES))
        for i, name in enumerate(sorted(names)):
            pos = lo + width * (i + 0.5) / len(names)
            out[name] = _shaded(hue, SHADE * (1 - 2 * pos))
    return out


def backend_colors(table: pd.DataFrame, key: str = "backend") -> dict[str, str]:
    """A colour per value of `key` from its rows' descriptor columns (backend_isolation,
    backend_start_method, backend_gil_bound); values whose rows have none (a backend not
    registered, an idle mode) get color(name)."""
    if key not in table.columns:
        return {}
    out, described = {}, []
    for name, g in table.groupby(key, sort=False):
        row: Mapping[str, Any] = g.iloc[0]
        isolation = row.get("backend_isolation")
        if isinstance(isolation, str):
            start, gil = row.get("backend_start_method"), row.get("backend_gil_bound")
            described.append((str(name), isolation, start, gil))
        else:
            out[str(name)] = color(str(name))
    return {**out, **shades(described)}


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
