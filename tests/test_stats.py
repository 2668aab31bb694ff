"""Statistics and scaling models on known inputs."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from jobrecords import job_record

from coresweep.analysis.scaling_models import amdahl, fit_serial_fraction, gustafson
from coresweep.stats import (
    karp_flatt,
    median_ci,
    outlier_mask,
    paired_ratio_ci,
    ratio_ci,
    stability_flags,
    summarize,
)


def test_median_ci_brackets_the_median_and_is_reproducible():
    x = np.random.default_rng(0).normal(10, 1, 40)
    med, lo, hi = median_ci(x)
    assert lo <= med <= hi
    assert hi - lo < 1.5
    assert median_ci(x) == (med, lo, hi)


def test_median_ci_of_constant_samples_has_zero_width():
    assert median_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_mad_rule_finds_the_outlier_only():
    mask = outlier_mask([1.0, 1.01, 0.99, 1.02, 0.98, 5.0])
    assert mask.tolist() == [False] * 5 + [True]


def test_summary_reports_spread_and_outliers():
    s = summarize([1.0, 1.01, 0.99, 1.02, 0.98, 5.0])
    assert s.n == 6 and s.outliers == 1 and s.max == 5.0
    assert s.cv > 0.5
    assert s.rel_halfwidth >= 0


def test_ratio_ci_brackets_a_known_ratio():
    rng = np.random.default_rng(1)
    a = 2.0 + rng.normal(0, 0.02, 30)
    b = 1.0 + rng.normal(0, 0.01, 30)
    r, lo, hi = ratio_ci(a, b)
    assert lo < 2.0 < hi and abs(r - 2.0) < 0.05


def test_paired_ratio_ci_cancels_a_speed_change_shared_by_each_round():
    # both arms slow down together round by round (the host's speed drifts 30%): unpaired,
    # the ratio's interval spans the drift; paired by round it is exactly 1.1
    speed = np.linspace(1.0, 1.3, 9)
    thread, process = 1.0 * speed, 1.1 * speed
    r, lo, hi = paired_ratio_ci(process, thread)
    assert (r, lo, hi) == pytest.approx((1.1, 1.1, 1.1))
    _, ulo, uhi = ratio_ci(process, thread)
    assert ulo < 1.0 and uhi > 1.2
    # different sample counts were not sampled in the same rounds: the unpaired interval
    assert paired_ratio_ci(process[:8], thread) == ratio_ci(process[:8], thread)


def test_stability_flags_name_each_problem():
    assert stability_flags([1.0, 1.0, 1.0]) == []
    assert "cv>10%" in stability_flags([1.0, 1.5, 0.6, 1.2])
    assert "samples<1ms" in stability_flags([0.0005, 0.0005])
    assert "slow-first-run" in stability_flags([1.0, 1.0], first_run=3.0)
    assert "min/max>50%-from-mean" in stability_flags([1.0, 1.0, 1.0, 4.0])


def test_karp_flatt_is_zero_for_ideal_and_one_for_no_speedup():
    assert karp_flatt(2.0, 2) == pytest.approx(0.0)
    assert karp_flatt(1.0, 4) == pytest.approx(1.0)
    assert math.isnan(karp_flatt(1.0, 1))


def test_amdahl_fit_recovers_the_serial_fraction():
    ps = np.array([1, 2, 4, 8, 16])
    f, se = fit_serial_fraction(ps, amdahl(ps, 0.1))
    assert f == pytest.approx(0.1, abs=1e-6)
    g, _ = fit_serial_fraction(ps, gustafson(ps, 0.2), model="gustafson")
    assert g == pytest.approx(0.2, abs=1e-6)


def test_amdahl_fit_is_undetermined_with_one_core_count():
    f, se = fit_serial_fraction([2, 2], [1.8, 1.9])
    assert math.isnan(f)


def _curve(ps, f, host="h", mode="strong"):
    import pandas as pd

    fn = amdahl if mode == "strong" else gustafson
    return pd.DataFrame(
        {
            "host": host,
            "kernel": "k",
            "backend": "threads",
            "mode": mode,
            "p": ps,
            "speedup": [float(fn(p, f)) for p in ps],
        }
    )


def test_fit_models_holds_out_the_largest_p_and_extrapolates():
    from coresweep.analysis.scaling_models import fit_models

    fits = fit_models(_curve([1, 2, 4, 8], 0.1), [64])
    row = fits.iloc[0]
    assert row.f == pytest.approx(0.1, abs=1e-6)
    assert row.holdout_p == 8
    assert row.holdout_rel_error == pytest.approx(0.0, abs=1e-6)
    assert row.p == 64 and row.kind == "extrapolation" and row.extrapolated
    assert row.speedup == pytest.approx(float(amdahl(64, 0.1)), rel=1e-6)
    assert row.speedup_lo <= row.speedup <= row.speedup_hi


def test_fit_models_says_why_two_core_counts_cannot_be_held_out():
    from coresweep.analysis.scaling_models import fit_models

    row = fit_models(_curve([1, 2], 0.2), [16]).iloc[0]
    assert math.isnan(row.holdout_rel_error)
    assert "needs >= 3 core counts" in row.holdout_note
    # exact points, no CIs: nothing says how uncertain S(2) is, so no number for p = 16
    assert math.isnan(row.speedup) and "no speedup is predicted" in row.note


def _overhead_table(r, n_strong=8, n_weak=4, ps=(1, 2), weak_r=None):
    """Speedups of a backend that adds r serial task times per call (T = a + N w / p)."""
    import pandas as pd

    rows = []
    for mode, n, rr in (("strong", n_strong, r), ("weak", n_weak, weak_r or r)):
        for p in ps:
            ntasks = n if mode == "strong" else n * p
            speedup = n / (rr + n / p) if mode == "strong" else p * n / (rr + n)
            rows.append(dict(host="h", kernel="k", backend="b", mode=mode, p=p,
                             ntasks=ntasks, speedup=speedup))  # fmt: skip
    return pd.DataFrame(rows)


def test_two_core_counts_are_validated_across_modes():
    from coresweep.analysis.scaling_models import fit_models

    fits = fit_models(_overhead_table(0.5), [16]).set_index("mode")
    for mode, other in (("strong", "weak"), ("weak", "strong")):
        row = fits.loc[mode]
        assert row.holdout_kind.startswith(f"{other} scaling from the {mode} curve")
        assert row.holdout_p == 2
        assert row.holdout_rel_error == pytest.approx(0.0, abs=1e-9)
    # measured weak S(2) = 2 * 4 / 4.5; the strong curve predicts it exactly
    assert fits.loc["strong"].holdout_measured == pytest.approx(8 / 4.5)


def test_cross_mode_holdout_reports_a_model_that_misses():
    from coresweep.analysis.scaling_models import fit_models

    # weak runs pay 2 task times per call, strong runs 0.5: one overhead cannot explain both
    row = fit_models(_overhead_table(0.5, weak_r=2.0), [16]).set_index("mode").loc["strong"]
    assert row.holdout_predicted == pytest.approx(8 / 4.5)
    assert row.holdout_rel_error == pytest.approx((8 / 4.5) / (8 / 6) - 1)


def test_arms_sampled_together_stop_together_with_paired_samples(monkeypatch):
    import itertools

    from coresweep.measure import sampling
    from coresweep.measure.timer import Timing

    # a clock under the test's control: "steady" always takes 1 s, "noisy" 1 s or 2 s
    walls = {"steady": itertools.repeat(1.0), "noisy": itertools.cycle([1.0, 2.0])}

    def fake_timed(fn):
        name = fn()
        return name, Timing(wall=next(walls[name]), cpu=0.0)

    monkeypatch.setattr(sampling, "timed", fake_timed)
    proto = sampling.Protocol(warmup=1, repeats=3, max_repeats=8, min_sample_seconds=0.0,
                              target_rel_halfwidth=0.02, point_budget_seconds=60.0)  # fmt: skip
    arms = {"steady": lambda: "steady", "noisy": lambda: "noisy"}
    apart = sampling.sample_arms(arms, proto, seed=3)
    assert len(apart["steady"].wall) == 3 and apart["steady"].stopped_on == "precision"
    assert len(apart["noisy"].wall) == 8 and apart["noisy"].stopped_on == "max_repeats"
    together = sampling.sample_arms(arms, proto, seed=3, together=True)
    assert len(together["steady"].wall) == len(together["noisy"].wall) == 8
    assert together["steady"].stopped_on == "precision"


def test_paired_speedup_cancels_a_machine_that_slows_down_mid_job():
    from coresweep.experiments.scaling import paired_speedup

    slow = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])  # the machine halves its speed
    base = {"ntasks": 4, "wall": list(0.4 * slow)}  # 4 tasks serially
    mode = {"ntasks": 8, "wall": list(0.2 * slow)}  # 8 tasks on 4 workers
    s, lo, hi = paired_speedup(base, mode)
    assert s == lo == hi == pytest.approx(4.0)  # 8 tasks' serial time 0.8 / 0.2


def _scaling_record(capacity_flag: bool, base_wall: list[float]) -> dict:
    mode = {"mode": "strong", "size": 10, "ntasks": 8, "work": 80.0, "unit": "sample",
            "wall": [0.2, 0.21, 0.2], "cpu": [0.4, 0.42, 0.4], "inner": 1, "first_run": 0.2,
            "stopped_on": "precision", "check_ok": True}  # fmt: skip
    return {
        "point": {"id": "k__threads__p2", "params": {}},
        "provenance": {"machine": {"hostname": "h", "usable_cores": 2}},
        "provenance_hash": "x",
        "result": {
            "kernel": "k", "kind": "python", "backend": "threads", "p": 2,
            "startup_s": 0.0, "compile_s": 0.0, "modes": [mode],
            "baseline": {"ntasks": 4, "size": 10, "wall": base_wall, "cpu": base_wall,
                         "first_run": base_wall[0], "check_ok": True},
            "job": job_record(capacity_flag=capacity_flag),
        },
    }  # fmt: skip


def test_scaling_rows_carry_the_jobs_capacity_and_baseline_doubts():
    from coresweep.experiments.scaling import aggregate

    ok = aggregate([_scaling_record(False, [0.2, 0.2, 0.2])]).iloc[0]
    assert ok["flags"] == "" and ok.baseline_flags == ""  # (Series.flags is pandas' own)
    assert ok.speedup == pytest.approx(2 * 0.2 / 0.2, rel=0.06)  # 8 tasks vs a 4-task baseline
    assert ok.efficiency == pytest.approx(ok.speedup / 2)
    short = aggregate([_scaling_record(True, [0.2, 0.4, 0.2])]).iloc[0]
    assert "low-capacity" in short["flags"]
    assert "cv>10%" in short.baseline_flags


@pytest.mark.parametrize("size", [12, 5000])  # 5000: resamples drawn in several batches
@pytest.mark.parametrize("q", [0.5, 0.9])
def test_quantile_interval_is_scipys_percentile_bootstrap(size, q):
    from scipy import stats

    from coresweep.stats import N_RESAMPLES, SEED, quantile_ci

    x = np.random.default_rng(size).lognormal(0.0, 0.3, size)
    ref = stats.bootstrap(
        (x,),
        lambda s, axis=-1: np.quantile(s, q, axis=axis),
        n_resamples=N_RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(SEED),
        vectorized=True,
    ).confidence_interval
    _, lo, hi = quantile_ci(x, q)
    assert (lo, hi) == pytest.approx((ref.low, ref.high), rel=1e-3)


def test_a_measurement_job_does_not_import_scipy():
    """`import scipy.stats` costs ~1.5 s; the sampler's precision check must not pay it."""
    code = (
        "import sys; import coresweep.measure.sampling, coresweep.measure.runner; "
        "from coresweep.stats import median_ci; median_ci([1.0, 1.1, 1.2]); "
        "print(sorted(m for m in sys.modules if m.startswith('scipy.stats')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_zero_of_n_needed_bounds_the_rate_exactly_where_clopper_pearson_does():
    from scipy.stats import binomtest

    from coresweep.stats import zero_of_n_needed

    for rate in (0.5, 0.3, 0.2, 0.1, 0.05):
        n = zero_of_n_needed(rate)
        assert binomtest(0, n).proportion_ci().high < rate  # n clean trials show it ...
        assert binomtest(0, n - 1).proportion_ci().high >= rate  # ... n - 1 do not
    assert (zero_of_n_needed(0.3), zero_of_n_needed(0.05)) == (11, 72)


def test_one_slow_first_call_does_not_set_how_many_calls_a_sample_repeats():
    import time

    from coresweep.measure import sampling

    calls = []

    def fn():
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.005)  # a cold first call: 5 ms, then ~a microsecond each

    proto = sampling.Protocol(warmup=1, repeats=2, max_repeats=2, min_sample_seconds=0.01)
    got = sampling.sample_arms({"a": fn}, proto, seed=1)["a"]
    # from the first call alone a sample would repeat ceil(0.01 / 0.005) = 2 calls
    assert got.inner > 100
    # each sample lasts about min_sample_seconds: within a factor 5, as this VM's speed swings
    # 2x between calibration and samples (seen: 3.8 ms); the first call alone would give 2 µs
    assert min(got.wall) * got.inner > 0.002


def test_a_call_that_fills_a_sample_is_not_repeated_to_calibrate():
    import time

    from coresweep.measure import sampling

    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.004)

    proto = sampling.Protocol(warmup=1, repeats=2, max_repeats=2, min_sample_seconds=0.002)
    got = sampling.sample_arms({"a": fn}, proto, seed=1)["a"]
    assert got.inner == 1 and len(calls) == 1 + 2  # the warm-up, then the two samples


def test_a_medians_95_percent_interval_needs_6_samples_and_the_config_asks_for_them():
    from coresweep import config as cs_config
    from coresweep.config_model import MEDIAN_SAMPLES, median_samples

    # [min, max] of n samples covers the median with 1 - 2^(1 - n): 93.75% at 5, 96.9% at 6
    assert [median_samples(c) for c in (0.75, 0.9, 0.9375, 0.95, 0.99)] == [3, 5, 5, 6, 8]
    assert MEDIAN_SAMPLES == 6
    # the bootstrap interval of 3 samples lies inside [min, max], whatever the samples
    x = [1.0, 1.3, 0.8]
    _, lo, hi = median_ci(x)
    assert min(x) <= lo and hi <= max(x)
    for key in ("protocol", "experiments.communication", "experiments.task_size.protocol",
                "experiments.hybrid.protocol", "experiments.context_switch.protocol"):  # fmt: skip
        section: dict = {}
        cfg = section
        for part in key.split("."):
            cfg = cfg.setdefault(part, {})
        cfg["repeats"] = 5
        with pytest.raises(
            cs_config.ConfigError, match=rf"{key}\.repeats: 5 is less than the minimum of 6"
        ):
            cs_config.validate(section)
