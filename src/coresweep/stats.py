"""Robust statistics for timing samples: median with a bootstrap CI, spread, outliers, flags."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from coresweep.flags import Flag

SEED = 12345  # bootstrap resampling is seeded: the same samples give the same interval
N_RESAMPLES = 2000
MAD_K = 3.0  # a sample is an outlier beyond MAD_K robust standard deviations


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    ci_lo: float
    ci_hi: float
    mean: float
    iqr: float
    cv: float
    min: float
    max: float
    outliers: int

    @property
    def rel_halfwidth(self) -> float:
        return (self.ci_hi - self.ci_lo) / 2 / self.median if self.median else float("inf")

    def asdict(self) -> dict[str, float]:
        return {**asdict(self), "rel_halfwidth": self.rel_halfwidth}

    def time_columns(self) -> dict[str, float]:
        """The timing columns every table shares (the report's quality section reads them)."""
        return {
            "n": self.n,
            "time_median": self.median,
            "time_ci_lo": self.ci_lo,
            "time_ci_hi": self.ci_hi,
            "time_rel_halfwidth": self.rel_halfwidth,
            "time_cv": self.cv,
        }


def median_ci(x: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Median and its percentile-bootstrap interval (fixed seed)."""
    return quantile_ci(x, 0.5, confidence)


def quantile_ci(
    x: Sequence[float], q: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Quantile q (0..1) and its percentile-bootstrap interval (fixed seed); tails need many samples."""
    a = np.asarray(x, dtype=float)
    value = float(np.quantile(a, q))
    if a.size < 2 or np.all(a == a[0]):
        return value, value, value
    boots = resampled(a, lambda s: np.quantile(s, q, axis=1), np.random.default_rng(SEED))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return value, float(lo), float(hi)


def resampled(
    a: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """The statistic over N_RESAMPLES resamples of a (with replacement): the percentile
    bootstrap of scipy.stats.bootstrap(method="percentile"), which tests/test_stats.py checks
    it against. In numpy because every measurement job checks its precision after each round
    and `import scipy.stats` costs a job ~1.5 s (measured with cProfile here, 2026-11-28).
    Resamples go in batches of at most 2^22 values (32 MB), whatever the sample size.
    statistic: rows of resamples -> one value per row."""
    out = np.empty(N_RESAMPLES)
    batch = max(1, 2**22 // max(1, a.size))
    for i in range(0, N_RESAMPLES, batch):
        n = min(batch, N_RESAMPLES - i)
        out[i : i + n] = statistic(rng.choice(a, size=(n, a.size)))
    return out


def outlier_mask(x: Sequence[float]) -> np.ndarray:
    """MAD rule: |x - median| > 3 x 1.4826 x MAD."""
    a = np.asarray(x, dtype=float)
    from scipy import stats  # not at import: measurement jobs never need it (see resampled)

    mad = stats.median_abs_deviation(a, scale="normal")
    if mad == 0:
        return np.zeros(a.size, dtype=bool)
    return np.abs(a - np.median(a)) > MAD_K * mad


def summarize(x: Sequence[float]) -> Summary:
    a = np.asarray(x, dtype=float)
    if a.size == 0:
        raise ValueError("no samples to summarize")
    med, lo, hi = median_ci(a)
    mean = float(a.mean())
    q1, q3 = np.percentile(a, [25, 75])
    return Summary(
        n=int(a.size),
        median=med,
        ci_lo=lo,
        ci_hi=hi,
        mean=mean,
        iqr=float(q3 - q1),
        cv=float(a.std(ddof=1) / mean) if a.size > 1 and mean else 0.0,
        min=float(a.min()),
        max=float(a.max()),
        outliers=int(outlier_mask(a).sum()),
    )


def ratio_ci(
    num: Sequence[float], den: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float]:
    """median(num)/median(den) with an interval from resampling both sides independently."""
    a = np.asarray(num, dtype=float)
    b = np.asarray(den, dtype=float)
    ratio = float(np.median(a) / np.median(b))
    if a.size < 2 or b.size < 2:
        return ratio, ratio, ratio
    rng = np.random.default_rng(SEED)
    ra = resampled(a, lambda s: np.median(s, axis=1), rng)
    rb = resampled(b, lambda s: np.median(s, axis=1), rng)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(ra / rb, [alpha, 1 - alpha])
    return ratio, float(lo), float(hi)


def paired_ratio_ci(
    num: Sequence[float], den: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float]:
    """The median over rounds of num_i / den_i, for arms sampled in the same rounds
    (`sample_arms(together=True)`): a change of the machine's speed between rounds cancels.
    Arms with different sample counts were not paired: `ratio_ci` then."""
    a = np.asarray(num, dtype=float)
    b = np.asarray(den, dtype=float)
    if a.size != b.size or a.size < 2:
        return ratio_ci(a, b, confidence)
    return median_ci(a / b, confidence)


def stability_flags(
    samples: Sequence[float], first_run: float | None = None, max_cv: float = 0.10
) -> list[str]:
    """Reasons to doubt a point (after pyperf check): spread, extremes, too short, slow start."""
    a = np.asarray(samples, dtype=float)
    flags: list[str] = []
    mean = float(a.mean())
    if a.size > 1 and mean and a.std(ddof=1) / mean > max_cv:
        flags.append(Flag.CV.at(max_cv))
    if mean and (abs(a.min() - mean) > 0.5 * mean or abs(a.max() - mean) > 0.5 * mean):
        flags.append(Flag.SPREAD.at())
    if a.min() < 1e-3:
        flags.append(Flag.SHORT_SAMPLES.at())
    if first_run is not None and first_run > 1.5 * float(np.median(a)):
        flags.append(Flag.SLOW_FIRST_RUN.at())
    return flags


@dataclass(frozen=True)
class LineFit:
    """Least-squares line y = intercept + slope x, with the slope's t interval."""

    slope: float
    ci_lo: float
    ci_hi: float
    intercept: float
    r2: float
    n: int  # points fitted; the interval needs n >= 3 (NaN otherwise)


def line_fit(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> LineFit:
    """Slope of y over x with a t-based interval (e.g. memory per extra worker)."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    nan = float("nan")
    if np.unique(a).size < 2:
        return LineFit(nan, nan, nan, nan, nan, int(a.size))
    from scipy import stats

    res = stats.linregress(a, b)
    half = nan
    if a.size >= 3:
        half = float(stats.t.ppf((1 + confidence) / 2, a.size - 2) * res.stderr)
    return LineFit(
        slope=float(res.slope),
        ci_lo=float(res.slope) - half,
        ci_hi=float(res.slope) + half,
        intercept=float(res.intercept),
        r2=float(res.rvalue**2),
        n=int(a.size),
    )


def karp_flatt(speedup: float, p: int) -> float:
    """Experimentally determined serial fraction e = (1/S - 1/p) / (1 - 1/p); NaN at p = 1."""
    if p <= 1 or not speedup or math.isnan(speedup):
        return float("nan")
    return (1 / speedup - 1 / p) / (1 - 1 / p)


def binomial(k: int, n: int) -> tuple[float, float, float]:
    """k of n as (rate, lower, upper): the exact Clopper-Pearson 95% interval."""
    from scipy.stats import binomtest

    if n <= 0:
        return math.nan, math.nan, math.nan
    ci = binomtest(int(k), int(n)).proportion_ci(0.95, method="exact")
    return k / n, float(ci.low), float(ci.high)


def rate_decided(k: int, n: int, rate: float) -> bool:
    """Whether k events in n trials place the rate's exact 95% interval wholly above or
    below `rate` (more trials cannot move the decision any more)."""
    _, lo, hi = binomial(k, n)
    return n > 0 and (lo > rate or hi < rate)


def zero_of_n_needed(rate: float) -> int:
    """Trials without an event whose exact 95% upper bound on its rate, 1 - 0.025^(1/n)
    for 0 of n (Clopper–Pearson), falls below `rate`: 11 for 30%, 72 for 5%."""
    return math.floor(math.log(0.025) / math.log(1 - rate)) + 1
