"""Scaling models: Karp–Flatt serial fraction, Amdahl and Gustafson fits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
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
    if np.unique(x).size < 2:
        return float("nan"), float("nan")
    (f,), cov = curve_fit(fn, x, y, p0=[0.05], bounds=([-1.0], [1.0]))
    se = float(np.sqrt(cov[0, 0])) if np.isfinite(cov[0, 0]) else float("nan")
    return float(f), se


GROUP = ["host", "kernel", "backend", "mode"]
Z95 = 1.959964


def _model(mode: str) -> str:
    return "amdahl" if mode == "strong" else "gustafson"


def _predict(model: str, p: float, f: float) -> float:
    fn = amdahl if model == "amdahl" else gustafson
    return float(fn(p, f))


def fit_group(ps: Sequence[float], speedups: Sequence[float], mode: str) -> dict[str, float]:
    """Serial fraction of one (host, kernel, backend, mode) curve and its hold-out error.

    The hold-out refits without the largest p and predicts it; it needs three core counts.
    """
    model = _model(mode)
    f, se = fit_serial_fraction(ps, speedups, model)
    out = {"model": model, "f": f, "f_se": se, "n_p": len(set(ps))}
    pmax = max(ps)
    keep = [(p, s) for p, s in zip(ps, speedups, strict=True) if p < pmax]
    out |= {"holdout_p": pmax, "holdout_measured": float("nan"), "holdout_predicted": float("nan")}
    out |= {"holdout_rel_error": float("nan"), "holdout_kind": ""}
    if len({p for p, _ in keep}) >= 2:
        f_h, _ = fit_serial_fraction([p for p, _ in keep], [s for _, s in keep], model)
        measured = float(np.mean([s for p, s in zip(ps, speedups, strict=True) if p == pmax]))
        predicted = _predict(model, pmax, f_h)
        out |= {
            "holdout_kind": "largest p",
            "holdout_measured": measured,
            "holdout_predicted": predicted,
            "holdout_rel_error": predicted / measured - 1,
        }
    return out


def overhead_tasks(ps: Sequence[float], speedups: Sequence[float], mode: str, n: float) -> float:
    """Fixed cost per call, in serial task times r = a / w, of the model T(p) = a + N w / p.

    N w / p is the work of N tasks of serial time w spread over p workers; a is what the
    backend adds per call. With the serial run's w as baseline, strong scaling (N = n)
    gives 1 / S = r / n + 1 / p and weak scaling (N = n p, S = p T_serial(n) / T(p))
    gives p / S = 1 + r / n; r is the mean of what each measured p says.
    """
    p = np.asarray(ps, dtype=float)
    s = np.asarray(speedups, dtype=float)
    per_point = n * (1 / s - 1 / p) if mode == "strong" else n * (p / s - 1)
    per_point = per_point[np.isfinite(per_point)]
    return float(per_point.mean()) if per_point.size else float("nan")


def overhead_speedup(p: float, r: float, mode: str, n: float) -> float:
    """Speedup the fixed-overhead model predicts at p (see overhead_tasks)."""
    return 1 / (r / n + 1 / p) if mode == "strong" else p / (1 + r / n)


def _tasks(g: pd.DataFrame, mode: str) -> float:
    """Tasks per call (strong) or per worker (weak) of one curve; NaN if not constant."""
    per = g.ntasks / (g.p if mode == "weak" else 1)
    return float(per.iloc[0]) if per.nunique() == 1 else float("nan")


def cross_mode_holdout(fitted: pd.DataFrame, other: pd.DataFrame, mode: str) -> dict[str, Any]:
    """Predict the other mode's largest-p speedup from this mode's curve (that point unused).

    The hold-out for machines with two core counts: refitting without the largest p leaves
    only p = 1, where every serial fraction predicts the same speedup. Strong and weak runs
    share one backend overhead per call (overhead_tasks), fitted here on one mode alone.
    """
    other_mode = "weak" if mode == "strong" else "strong"
    r = overhead_tasks(fitted.p, fitted.speedup, mode, _tasks(fitted, mode))
    pmax = float(other.p.max())
    measured = float(other[other.p == pmax].speedup.mean())
    predicted = overhead_speedup(pmax, r, other_mode, _tasks(other, other_mode))
    return {
        "holdout_kind": f"{other_mode} scaling from the {mode} curve (fixed overhead per call)",
        "holdout_p": pmax,
        "holdout_measured": measured,
        "holdout_predicted": predicted,
        "holdout_rel_error": predicted / measured - 1,
    }


def fit_models(table: pd.DataFrame, targets: Sequence[int]) -> pd.DataFrame:
    """Per curve: fitted serial fraction, hold-out error, and speedups extrapolated to targets
    with an interval from the fit's standard error (f ± 1.96 se)."""
    rows = []
    t = table[table.backend != "serial"].dropna(subset=["speedup"])
    for key, g in t.groupby(GROUP):
        fit = fit_group(list(g.p), list(g.speedup), key[3])
        row = dict(zip(GROUP, key, strict=True)) | fit
        row["holdout_note"] = ""
        if fit["n_p"] < 3:
            row["holdout_note"] = (
                f"largest-p hold-out needs >= 3 core counts, measured {fit['n_p']}"
            )
            same = (t.host == key[0]) & (t.kernel == key[1]) & (t.backend == key[2])
            other = t[same & (t["mode"] != key[3])]
            if fit["n_p"] == 2 and not other.empty and "ntasks" in t:
                row |= cross_mode_holdout(g, other, key[3])
        for target in targets:
            f, se = fit["f"], fit["f_se"]
            pred = _predict(fit["model"], target, f) if np.isfinite(f) else float("nan")
            lo_f, hi_f = (f + Z95 * se, f - Z95 * se) if np.isfinite(se) else (f, f)
            row[f"S_at_{target}"] = pred
            row[f"S_at_{target}_lo"] = _predict(fit["model"], target, min(max(lo_f, -1), 1))
            row[f"S_at_{target}_hi"] = _predict(fit["model"], target, min(max(hi_f, -1), 1))
        rows.append(row)
    return pd.DataFrame(rows)
