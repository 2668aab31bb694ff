"""Scaling models: Karp–Flatt serial fraction, Amdahl and Gustafson fits with intervals,
hold-out checks, and the model table (`coresweep model` -> results/tables/scaling_model.csv)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit
from scipy.stats import t as t_dist

from coresweep.analysis.verdicts import described


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
F_BOUNDS = (-1.0, 1.0)  # the fit's bounds (fit_serial_fraction)

#: the model table (results/tables/scaling_model.csv): one row per curve and target p
COLUMNS = [
    *GROUP,
    "model",  # amdahl (strong scaling) or gustafson (weak scaling)
    "n_p",  # distinct core counts measured
    "measured_p",  # those core counts, "1, 2, 4"
    "f",  # fitted serial fraction
    "f_se",  # its standard error
    "f_lo",  # its 95% interval
    "f_hi",
    "f_interval_from",  # what the interval rests on (speedup CIs, fit residuals, or none: why)
    "p",  # the core count predicted
    "kind",  # extrapolation | interpolation | fit at a measured p
    "extrapolated",  # p outside the measured range
    "speedup",  # the model's speedup at p
    "speedup_lo",  # its 95% interval (the f interval through the model)
    "speedup_hi",
    "holdout_kind",  # which check: "largest p" or the cross-mode check
    "holdout_p",
    "holdout_measured",
    "holdout_predicted",
    "holdout_rel_error",  # predicted / measured - 1; NaN when it cannot be computed
    "holdout_note",  # why it is NaN, or what was checked instead
    "note",  # what these core counts can and cannot show, in words
]


def _model(mode: str) -> str:
    return "amdahl" if mode == "strong" else "gustafson"


def _predict(model: str, p: float, f: float) -> float:
    """The model's speedup at p; +inf past Amdahl's pole (f < 0 with f + (1 - f) / p <= 0)."""
    if not np.isfinite(f):
        return float("nan")
    if model == "amdahl":
        den = f + (1.0 - f) / p
        return 1.0 / den if den > 0 else float("inf")
    return float(gustafson(p, f))


def _slope(model: str, p: np.ndarray, f: float) -> np.ndarray:
    """dS/df at p: -(1 - 1/p) S^2 (Amdahl) or -(p - 1) (Gustafson); 0 at p = 1."""
    if model == "amdahl":
        return -(1.0 - 1.0 / p) * np.asarray(amdahl(p, f)) ** 2
    return -(p - 1.0)


def _sigma(lo: Sequence[float] | None, hi: Sequence[float] | None) -> np.ndarray | None:
    """Standard errors of the speedups from their 95% CIs; None unless all are usable."""
    if lo is None or hi is None:
        return None
    sigma = (np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float)) / (2 * Z95)
    return sigma if np.all(np.isfinite(sigma) & (sigma > 0)) else None


def fit_interval(
    ps: Sequence[float],
    speedups: Sequence[float],
    model: str = "amdahl",
    ci_lo: Sequence[float] | None = None,
    ci_hi: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Serial fraction f of one curve with a 95% interval: f, f_se, f_lo, f_hi, f_interval_from.

    Method. f is the least-squares fit of the model, weighted by 1/sigma^2 when every point
    has a speedup CI (sigma = CI width / 3.92). Its standard error is propagated linearly from
    the m points that carry information about f, those with p > 1 (S(1) = 1 for every f):
    with J = dS/df there, se = 1 / sqrt(sum J^2 / sigma^2). With CIs, se is scaled by the
    Birge ratio sqrt(chi^2 / (m - 1)) when that exceeds 1 (the model misses the points by
    more than their noise) and the interval is f ± 1.96 se. Without CIs, se comes from the
    residual scatter (sigma^2 = chi^2 / (m - 1), needs m >= 2) and the interval is
    f ± t(0.975, m - 1) se. Without either (one point above p = 1 and no CIs) there is no
    interval. The interval is clipped to the fit's bounds. predict() maps [f_lo, f_hi]
    through the model, which is monotone in f, so the speedup interval is exact given the f
    interval -- and holds only if the model does.
    """
    nan = float("nan")
    out: dict[str, Any] = {"f": nan, "f_se": nan, "f_lo": nan, "f_hi": nan}
    x = np.asarray(ps, dtype=float)
    y = np.asarray(speedups, dtype=float)
    sigma = _sigma(ci_lo, ci_hi)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    sigma = sigma[ok] if sigma is not None else None
    if np.unique(x).size < 2 or not np.any(x > 1):
        return out | {"f_interval_from": "none: fewer than two core counts, nothing to fit"}
    fn = amdahl if model == "amdahl" else gustafson
    (f,), _ = curve_fit(fn, x, y, p0=[0.05], bounds=([F_BOUNDS[0]], [F_BOUNDS[1]]),
                        sigma=sigma, absolute_sigma=True)  # fmt: skip
    f = float(f)
    inf = x > 1
    w = 1 / sigma[inf] ** 2 if sigma is not None else np.ones(int(inf.sum()))
    info = float(np.sum(w * _slope(model, x[inf], f) ** 2))
    m = int(inf.sum())
    chi2 = float(np.sum(w * (y[inf] - fn(x[inf], f)) ** 2))
    if info <= 0 or (sigma is None and m < 2):
        why = "none: one core count above 1 and no speedup CIs"
        return out | {"f": f, "f_interval_from": why}
    se = 1 / math.sqrt(info)
    if sigma is not None:
        birge = math.sqrt(chi2 / (m - 1)) if m >= 2 else 0.0
        q, src = Z95, "speedup CIs"
        if birge > 1:
            se, src = se * birge, f"speedup CIs, scaled by the misfit (x{birge:.2g})"
    else:
        se *= math.sqrt(chi2 / (m - 1))
        q, src = float(t_dist.ppf(0.975, m - 1)), f"fit residuals (t, {m - 1} dof)"
    hw = q * se
    lo, hi = max(f - hw, F_BOUNDS[0]), min(f + hw, F_BOUNDS[1])
    return {"f": f, "f_se": se, "f_lo": lo, "f_hi": hi, "f_interval_from": src}


def at_bound(f: float) -> bool:
    """Whether the fit stopped at a bound of f (e.g. speedups below 1 push Amdahl's f to 1)."""
    return bool(np.isfinite(f)) and min(abs(f - b) for b in F_BOUNDS) < 1e-6


def predict(model: str, p: float, fit: dict[str, Any]) -> tuple[float, float, float]:
    """Speedup at p and its 95% interval: [f_hi, f_lo] through the model (S falls as f
    grows, for both models). All NaN when the fit has no interval (never a bare number) or
    stopped at a bound of f (the model does not describe the curve; curve_note says so)."""
    if not (np.isfinite(fit["f_lo"]) and np.isfinite(fit["f_hi"])) or at_bound(fit["f"]):
        return float("nan"), float("nan"), float("nan")
    return (_predict(model, p, fit["f"]), _predict(model, p, fit["f_hi"]),
            _predict(model, p, fit["f_lo"]))  # fmt: skip


def kind_of(p: float, measured: Sequence[float]) -> str:
    """extrapolation (outside the measured core counts), interpolation, or fit at a measured p."""
    if p > max(measured) or p < min(measured):
        return "extrapolation"
    return "fit at a measured p" if p in set(measured) else "interpolation"


def _plist(ps: Sequence[float]) -> str:
    return ", ".join(f"{p:g}" for p in sorted(ps))


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def curve_note(
    model: str, measured: Sequence[float], targets: Sequence[float], fit: dict[str, Any],
    cross_mode: bool = False,
) -> str:  # fmt: skip
    """What one curve's core counts can and cannot show about the model and its predictions."""
    law = "Amdahl's law" if model == "amdahl" else "Gustafson's law"
    ps = sorted(set(measured))
    n, listed = len(ps), _plist(ps)
    head = f"{n} core count{'s' if n != 1 else ''} ({listed})"
    informative = [p for p in ps if p > 1]
    if not np.isfinite(fit["f"]):
        return f"{head}: nothing to fit, so no speedup is predicted."
    parts = []
    untestable = len(informative) < 2
    if untestable:
        q = f"{informative[0]:g}"
        parts.append(
            f"{head}: every serial fraction gives S(1) = 1, so the one-parameter fit passes "
            f"through S({q}) exactly whatever the true curve is; these points cannot test "
            f"{law}, and the interval reflects only the measurement noise of S({q})"
        )
    elif len(informative) == 2:
        parts.append(
            f"{head}: one point more than the single parameter needs, a weak test of {law}"
        )
    else:
        parts.append(f"{head}")
    beyond = sorted({t for t in targets if t > max(ps)})
    if beyond:
        test = (
            "which nothing measured here tests"
            if untestable
            else f"which only the hold-out (predict p = {max(ps):g} from the others) tests"
        )
        parts.append(
            f"the speedups at {_and([f'{t:g}' for t in beyond])} cores are extrapolations: "
            f"they rest on the assumption that the serial fraction stays constant up to "
            f"{beyond[-1]:g} cores, {test}"
        )
    if untestable and cross_mode:
        parts.append(
            "the hold-out beside it predicts the other scaling mode through a fixed overhead "
            "per call: it checks that overhead, not this extrapolation"
        )
    if at_bound(fit["f"]):
        parts.append(
            f"the fit stopped at the bound f = {fit['f']:.3g}: the measured speedups lie outside "
            f"what {law} can describe, so no speedup is predicted"
        )
    if fit["f_interval_from"].startswith("none"):
        parts.append(f"no interval ({fit['f_interval_from'][6:]}), so no speedup is predicted")
    return " ".join(part[0].upper() + part[1:] + "." for part in parts)


def fit_group(
    ps: Sequence[float],
    speedups: Sequence[float],
    mode: str,
    ci_lo: Sequence[float] | None = None,
    ci_hi: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Serial fraction of one (host, kernel, backend, mode) curve, its interval (fit_interval)
    and its hold-out error.

    The hold-out refits without the largest p and predicts it; it needs three core counts.
    """
    model = _model(mode)
    out = {"model": model, "n_p": len(set(ps)), "measured_p": _plist(set(ps))}
    out |= fit_interval(ps, speedups, model, ci_lo, ci_hi)
    pmax = max(ps)
    keep = [(p, s) for p, s in zip(ps, speedups, strict=True) if p < pmax]
    out |= {"holdout_p": pmax, "holdout_measured": float("nan"), "holdout_predicted": float("nan")}
    out |= {"holdout_rel_error": float("nan"), "holdout_kind": ""}
    out["holdout_note"] = (
        f"refitting without the largest p needs >= 3 core counts, measured {out['n_p']}"
    )
    if len({p for p, _ in keep}) >= 2:
        f_h, _ = fit_serial_fraction([p for p, _ in keep], [s for _, s in keep], model)
        measured = float(np.mean([s for p, s in zip(ps, speedups, strict=True) if p == pmax]))
        predicted = _predict(model, pmax, f_h)
        out |= {
            "holdout_kind": "largest p",
            "holdout_measured": measured,
            "holdout_predicted": predicted,
            "holdout_rel_error": predicted / measured - 1,
            "holdout_note": f"refit without p = {pmax:g}, then predicted it",
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
    """The model table (COLUMNS): per curve and target p, the fitted serial fraction with its
    interval, the speedup at p with its interval (fit_interval states the method), whether
    that is an extrapolation, the hold-out error, and a note on what the core counts show."""
    rows = []
    # an inline backend (the kernel in the caller's own loop) has p = 1 only: no curve to fit
    t = table[described(table).backend_isolation.to_numpy() != "inline"]
    t = t.dropna(subset=["speedup"])
    cis = "speedup_ci_lo" in t and "speedup_ci_hi" in t
    for key, g in t.groupby(GROUP):
        lo, hi = (list(g.speedup_ci_lo), list(g.speedup_ci_hi)) if cis else (None, None)
        fit = fit_group(list(g.p), list(g.speedup), key[3], lo, hi)
        row = dict(zip(GROUP, key, strict=True)) | fit
        cross = False
        if fit["n_p"] < 3:
            same = (t.host == key[0]) & (t.kernel == key[1]) & (t.backend == key[2])
            other = t[same & (t["mode"] != key[3])]
            other_mode = "weak" if key[3] == "strong" else "strong"
            if fit["n_p"] == 2 and not other.empty and "ntasks" in t:
                row |= cross_mode_holdout(g, other, key[3])
                cross = True
                row["holdout_note"] += f"; checked against the {other_mode} curve instead"
                if not np.isfinite(row["holdout_rel_error"]):
                    row["holdout_note"] += " (impossible: tasks per call vary with p)"
            elif fit["n_p"] == 2:
                row["holdout_note"] += f", and no {other_mode} curve to check against"
        if not np.isfinite(row["holdout_rel_error"]):
            row["holdout_note"] = "no hold-out: " + row["holdout_note"]
        row["note"] = curve_note(fit["model"], list(g.p), targets, fit, cross)
        for target in targets:
            s, s_lo, s_hi = predict(fit["model"], target, fit)
            kind = kind_of(target, list(g.p))
            rows.append(row | {"p": target, "kind": kind, "extrapolated": kind == "extrapolation",
                               "speedup": s, "speedup_lo": s_lo, "speedup_hi": s_hi})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
