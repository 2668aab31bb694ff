"""The scaling model says what it knows: intervals on every predicted speedup, extrapolations
marked, the hold-out beside them, a note on what two core counts can show; and the report
reads results/tables/scaling_model.csv instead of fitting."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from reportdata import fixture_results

from coresweep.analysis import scaling_models
from coresweep.analysis.scaling_models import COLUMNS, amdahl, fit_models, gustafson
from coresweep.cli import main
from coresweep.report.build import build_report

TARGETS = [16, 64, 128]


def curve(ps, f, mode="strong", noise=(), rel_ci=0.03, backend="threads", ci=True):
    """A made-up scaling table of one curve: exact speedups times (1 + noise), CIs ± rel_ci."""
    fn = amdahl if mode == "strong" else gustafson
    noise = list(noise) or [0.0] * len(ps)
    rows = []
    for p, eps in zip(ps, noise, strict=True):
        s = float(fn(p, f)) * (1 + eps)
        rows.append(dict(host="h", kernel="k", backend=backend, mode=mode, p=p, speedup=s,
                         ntasks=4 if mode == "strong" else 2 * p))  # fmt: skip
        if ci:
            rows[-1] |= {"speedup_ci_lo": s * (1 - rel_ci), "speedup_ci_hi": s * (1 + rel_ci)}
    return pd.DataFrame(rows)


def at(fits, p):
    return fits.set_index("p").loc[p]


def test_known_serial_fraction_is_recovered_and_its_interval_covers_the_true_speedup():
    fits = fit_models(curve([1, 2, 4, 8], 0.1, noise=[0, 0.01, -0.01, 0.008]), TARGETS)
    assert list(fits.columns) == COLUMNS and len(fits) == len(TARGETS)
    row = at(fits, 64)
    assert row.f == pytest.approx(0.1, abs=0.01)
    assert row.f_lo < 0.1 < row.f_hi and row.f_interval_from == "speedup CIs"
    assert row.speedup_lo < float(amdahl(64, 0.1)) < row.speedup_hi
    assert row.speedup_lo < row.speedup < row.speedup_hi
    assert row.extrapolated and row.kind == "extrapolation"
    # the hold-out (refit on 1, 2, 4; predict 8) sits in the same row
    assert row.holdout_kind == "largest p" and row.holdout_p == 8
    assert abs(row.holdout_rel_error) < 0.05
    assert "4 core counts (1, 2, 4, 8)" in row.note and "extrapolations" in row.note


def test_the_interval_covers_the_true_speedup_about_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    ps, f, rel = [1, 2, 4, 8], 0.1, 0.02  # noise sd 2%, CIs of ±1.96 sd
    hits = 0
    for _ in range(200):
        noise = [0.0, *rng.normal(0, rel, 3)]
        fits = fit_models(curve(ps, f, noise=noise, rel_ci=1.96 * rel), [64])
        hits += fits.speedup_lo[0] <= float(amdahl(64, f)) <= fits.speedup_hi[0]
    assert 0.9 <= hits / 200 <= 1.0  # 0.97 with this seed


def test_a_residual_scatter_larger_than_the_cis_widens_the_interval():
    # a curve that bends away from Amdahl by far more than its ±0.1% CIs
    bent = curve([1, 2, 4, 8], 0.1, noise=[0, 0.05, -0.05, 0.05], rel_ci=0.001)
    row = at(fit_models(bent, [64]), 64)
    assert row.f_interval_from.startswith("speedup CIs, scaled by the misfit")
    assert row.speedup_lo < float(amdahl(64, 0.1)) < row.speedup_hi


def test_gustafson_fits_weak_scaling():
    row = at(fit_models(curve([1, 2, 4, 8], 0.2, mode="weak", noise=[0, 0.01, -0.01, 0]), [64]), 64)
    assert row.model == "gustafson" and row.f == pytest.approx(0.2, abs=0.02)
    assert row.speedup_lo < float(gustafson(64, 0.2)) < row.speedup_hi


def test_two_core_counts_get_the_note_and_wide_intervals():
    fits = fit_models(curve([1, 2], 0.2), TARGETS)
    for p in TARGETS:
        row = at(fits, p)
        assert row.extrapolated and row.kind == "extrapolation"
        assert row.speedup_lo < row.speedup < row.speedup_hi  # never degenerate
        assert row.speedup_lo < float(amdahl(p, 0.2)) < row.speedup_hi
    row = at(fits, 64)
    assert row.speedup_hi / row.speedup_lo > 1.3  # ±3% on S(2) is ±30% at 64 cores
    assert row.note.startswith("2 core counts (1, 2): ")
    assert "cannot test Amdahl's law" in row.note
    assert "the serial fraction stays constant up to 128 cores" in row.note
    assert "extrapolations" in row.note and "nothing measured here tests" in row.note
    # no weak curve: the hold-out is NaN and says why
    assert math.isnan(row.holdout_rel_error)
    assert (
        row.holdout_note.startswith("no hold-out: ")
        and "needs >= 3 core counts" in row.holdout_note
    )


def test_two_core_counts_are_checked_against_the_other_mode():
    table = pd.concat([curve([1, 2], 0.2), curve([1, 2], 0.2, mode="weak")])
    row = at(fit_models(table, [64]).query("mode == 'strong'"), 64)
    assert row.holdout_kind.startswith("weak scaling from the strong curve")
    assert math.isfinite(row.holdout_rel_error)
    assert "checks that overhead, not this extrapolation" in row.note


def test_only_points_beyond_the_measured_range_are_extrapolations():
    fits = fit_models(curve([1, 2, 4, 8], 0.1), [4, 6, 64])
    assert dict(zip(fits.p, fits.kind, strict=True)) == {
        4: "fit at a measured p", 6: "interpolation", 64: "extrapolation"}  # fmt: skip
    assert list(fits.extrapolated) == [False, False, True]
    assert fits[["speedup_lo", "speedup_hi"]].notna().all().all()


def test_no_interval_means_no_number():
    # two core counts and no CIs: nothing says how uncertain S(2) is
    row = at(fit_models(curve([1, 2], 0.2, ci=False), [64]), 64)
    assert math.isnan(row.speedup) and math.isnan(row.speedup_lo)
    assert row.f_interval_from.startswith("none") and "no speedup is predicted" in row.note


def test_speedups_below_one_say_the_fit_hit_its_bound():
    slow = curve([1, 2], 0.2)
    slow["speedup"] = [1.0, 0.8]
    row = at(fit_models(slow, [64]), 64)
    assert row.f == pytest.approx(1.0) and "stopped at the bound f = 1" in row.note
    assert math.isnan(row.speedup) and math.isnan(row.speedup_hi)  # the model does not fit


def test_model_command_writes_the_table(tmp_path):
    curve([1, 2, 4], 0.1).to_parquet(tmp_path / "scaling.parquet")
    out = tmp_path / "tables" / "scaling_model.csv"
    assert main(["model", "--table", str(tmp_path / "scaling.parquet"), "--to", "64",
                 "--out", str(out)]) == 0  # fmt: skip
    written = pd.read_csv(out)
    assert list(written.columns) == COLUMNS and written.extrapolated.tolist() == [True]


# The report: built from the checked-in tables, scaling only (the others are left out so the
# build stays quick; the report says they are missing).


@pytest.fixture
def results(tmp_path):
    res = fixture_results(tmp_path)
    for t in (res / "tables").glob("*.parquet"):
        if t.stem != "scaling":
            t.unlink()
    return res


def no_fitting(monkeypatch):
    def refit(*args, **kwargs):
        raise AssertionError("the report refitted the scaling model")

    for name in ("fit_models", "fit_group", "fit_interval"):
        monkeypatch.setattr(scaling_models, name, refit)


def test_report_reads_the_model_csv_and_does_not_refit(results, monkeypatch):
    out = results / "tables" / "scaling_model.csv"
    main(["model", "--table", str(results / "tables" / "scaling.parquet"), "--to", "16", "64",
          "128", "--out", str(out)])  # fmt: skip
    models = pd.read_csv(out)
    models["note"] = "NOTE FROM THE CSV"
    models.to_csv(out, index=False)
    no_fitting(monkeypatch)
    paths = build_report(results)
    html = paths["html"].read_text()
    section = html[html.index("<h2 id='model'>") :]
    section = section[: section.index("<h2", 5)]
    assert "NOTE FROM THE CSV" in section and "extrapolation" in section
    assert "S at p=64 [95% CI]" in section and "hold-out error" in section
    assert "class='warn'" not in section
    summary = (results / "summary.md").read_text()
    part = summary[summary.index("## Scaling model") : summary.index("## Measurement quality")]
    curves = models.drop_duplicates(["kernel", "backend", "mode"])
    rows = [line for line in part.splitlines() if "NOTE FROM THE CSV" in line]
    assert len(rows) == len(curves)
    header = next(line for line in part.splitlines() if "| hold-out error |" in line)
    col = [c.strip() for c in header.split("|")].index("hold-out error")
    for line in rows:  # p = 1, 2: each curve is checked against the other mode
        assert math.isfinite(float(line.split("|")[col])), line
    # every predicted cell is labelled; fits that stopped at a bound of f predict nothing
    assert all(line.count("extrapolation") >= len(TARGETS) for line in rows)
    numbers = [line for line in rows if re.search(r"\d \[[\d.]+, [\d.∞]+\] extrapolation", line)]
    assert (
        len(numbers)
        == models.drop_duplicates(["kernel", "backend", "mode"]).speedup.notna().sum()
        > 0
    )


def test_report_without_the_model_csv_says_it_was_not_run(results, monkeypatch):
    no_fitting(monkeypatch)
    html = build_report(results)["html"].read_text()
    assert "The scaling model was not run: there is no" in html and "scaling_model.csv" in html
    assert "S at p=" not in html
    assert "The scaling model was not run" in (results / "summary.md").read_text()


def test_report_without_scaling_at_all_still_builds(results, monkeypatch):
    (results / "tables" / "scaling.parquet").unlink()
    no_fitting(monkeypatch)
    html = build_report(results)["html"].read_text()
    assert "No scaling model: there is no usable scaling table" in html


def test_report_names_a_model_table_of_an_older_format(results, monkeypatch):
    pd.DataFrame({"kernel": ["k"], "S_at_64": [5.0]}).to_csv(
        results / "tables" / "scaling_model.csv", index=False
    )
    no_fitting(monkeypatch)
    html = build_report(results)["html"].read_text()
    assert "was written by an older coresweep" in html and "S at p=" not in html
