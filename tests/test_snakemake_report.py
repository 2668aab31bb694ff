"""Snakemake's own report of a tiny run: plots, tables as HTML, captions, a category per claim."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from wfhelpers import CONFIGS, copy_workflow, snakemake, write_config

from coresweep.claims import CLAIMS
from coresweep.report.native import category

FIGURES = {"scaling_speedup.svg", "scaling_efficiency.svg", "scaling_utilization.svg"}


@pytest.fixture(scope="module")
def native_report(tmp_path_factory):
    """report.zip of a three-job run: (file names in the zip, the report page)."""
    wd = copy_workflow(tmp_path_factory.mktemp("native"))
    config = write_config(wd, CONFIGS / "report.yaml")
    run = snakemake(wd, config, "--cores", "2", timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rep = snakemake(wd, config, "--report", "report.zip", timeout=300)
    assert rep.returncode == 0, rep.stderr[-3000:]
    with zipfile.ZipFile(wd / "report.zip") as z:
        return z.namelist(), z.read("report/report.html").decode()


@pytest.mark.slow
def test_report_zip_holds_every_figure_and_the_tables_as_html(native_report):
    names, _ = native_report
    files = {Path(n).name for n in names}
    assert files >= FIGURES
    assert {"scaling.html", "claims.html", "index.html", "claims.csv"} <= files
    verdicts = [n for n in names if n.endswith("/verdict.html")]
    assert sorted(Path(n).parent.name for n in verdicts) == sorted(map(category, CLAIMS))


@pytest.mark.slow
def test_every_claim_is_a_category_with_its_quote_in_the_caption(native_report):
    _, page = native_report
    for cid, claim in CLAIMS.items():
        assert f'"{category(cid)}": {{' in page, cid
        assert claim.quote.replace('"', "&quot;")[:40] in page, cid
    assert '"Tables": {' in page and '"Claims": {' in page
    first, *_, last = CLAIMS  # the claims caption takes its ids from the claims registry
    assert f"Every claim of the article ({first}\\u2013{last})" in page  # JSON-escaped dash


@pytest.mark.slow
def test_captions_and_workflow_description_are_rendered(native_report):
    _, page = native_report
    assert "One colour per backend across every figure" in page  # figure caption
    assert "The tidy table of the <strong>scaling</strong> experiment" in page  # table caption
    assert "How to read this report" in page  # workflow description
    assert "seed 7" in page  # the description renders the run's own protocol
