"""Scaling models: Karp–Flatt serial fraction, Amdahl and Gustafson fits."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import curve_fit


def karp_flatt(speedup: float, p: int) -> float:
    """Experimentally determined serial fraction e = (1/S - 1/p) / (1 - 1/p); NaN at p = 1."""
    if p <= 1 or not speedup or math.isnan(speedup):
        return float("nan")
    return (1 / speedup - 1 / p) / (1 - 1 / p)


def amdahl(p: np.ndarray | float, f: float) -> np.ndarray | float:
    """Amdahl speedup with serial fraction f."""
    return 1.0 / (f + (1.0 - f) / np.asarray(p, dtype=float))


def gustafson(p: np.ndarray | float, f: float) -> np.ndarray | float:
    """Gustafson scaled speedup with serial fraction f."""
    p = np.asarray(p, dtype=float)
    return p - f * (p - 1.0)


def fit_serial_fraction(
    ps: Sequence[float], speedups: Sequence[float], model: str = "amdahl"
) -> tuple[float, float]:
    """Least-squares serial fraction and its standard error (NaN when underdetermined)."""
    fn = amdahl if model == "amdahl" else gustafson
    x = np.asarray(ps, dtype=float)
    y = np.asarray(speedups, dtype=float)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.all(x == x[0]):
        return float("nan"), float("nan")
    (f,), cov = curve_fit(fn, x, y, p0=[0.05], bounds=([-1.0], [1.0]))
    se = float(np.sqrt(cov[0, 0])) if np.isfinite(cov[0, 0]) else float("nan")
    return float(f), se
