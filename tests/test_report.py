"""The report from checked-in tables (tests/data/tiny: a tiny run of every experiment) with
pinned verdicts and headlines; claims, standalone HTML, Snakemake's report files, bad input
(missing, partial, corrupt tables; corrupt raw files, from a tiny real run), job facts read
from the tables alone, and `coresweep compare`."""

from __future__ import annotations

import json
import re
import shutil
from html import escape as html_escape

import pandas as pd
import pytest
import yaml
from reportdata import aggregate_all, fixture_results, measured_results

from coresweep.claims import CLAIMS
from coresweep.cli import main
from coresweep.report.build import build_report
from coresweep.report.compare import compare_runs
from coresweep.report.rows import row_keys

# What the verdict rules make of tests/data/tiny/tables (measured on a quiet 2-core VM,
# 2026-11-28): update when the rules change or the fixture is measured again.
PINNED = {
    'C1': (
        'refuted',
        'No for mc-numba, mc-python (processes short of half the ideal gain: 0.87–1.44×; needs > 1.50×).',
    ),
    'C2': (
        'conditional',
        'Depends on the kernel: no for mc-python (busy: 1.39 cores; needs > 1.50 cores); not decided for mc-numba.',
    ),
    'C3': (
        'inconclusive',
        "Not decided for threads-python: flagged threads-python: reference-drift, 8.6% (x1.09), idle: reference-drift, 8.6% (x1.09), which could have caused this 'no'.",
    ),
    'C4': (
        'inconclusive',
        'Not decided for a copied input, a fork copy-on-write input, no input: fewer than 3 N: no per-worker interval.',
    ),
    'C5': (
        'conditional',
        'Depends on message size: yes for 64 KiB (threads faster: 1.25×); not decided for 8 B.',
    ),
    'C6': (
        'conditional',
        'Depends on what must survive: the caller did under every process pool, not under thread pools; the other tasks did not (pool-broken).',
    ),
    'C7': (
        'refuted',
        'No for pinned (process/thread: 0.65×; needs > 1.05×).',
    ),
    'C8': (
        'inconclusive',
        'Not decided for mc-python/processes-fork: interval [0.75, 1.70] straddles the bar 1.00× and the band [1.00, 1.00].',
    ),
    'C9': (
        'inconclusive',
        'Needs ≥ 4 cores for a P × T split with both above 1; this machine has 2.',
    ),
    'C10': (
        'supported',
        "Yes for sleep (throughput over one thread's: 3.80×).",
    ),
    'C11': (
        'conditional',
        'Depends on the kernel: yes for mc-numba (threads ran faster than one: 1.77×); no for mc-python (threads not faster: 0.92×; needs > 1.05×).',
    ),
    'C12': (
        'supported',
        'Yes for lost updates, deadlock (seen in: 97%–100%).',
    ),
    'C13': (
        'inconclusive',
        'Not decided for mc-python: interval [0.66, 3.94] (widened by processes: reference-drift, 5.7% (x1.06)) straddles the bar 1.05× and the band [0.95, 1.05].',
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The checked-in results folder with its report built once: (results, paths)."""
    results = fixture_results(tmp_path_factory.mktemp("report"))
    return results, build_report(results)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A tiny real run (scaling only, with its raw files) and its report: (results, paths)."""
    results = measured_results(tmp_path_factory.mktemp("measured"))
    return results, build_report(results)


def claims_of(results):
    return pd.read_csv(results / "claims.csv", keep_default_na=False).set_index("claim")


def test_verdicts_and_headlines_of_the_checked_in_tables(built):
    results, _ = built
    claims = claims_of(results)
    assert {cid: (r.verdict, r.headline) for cid, r in claims.iterrows()} == PINNED


def test_summaries_show_claim_quote_verdict_and_headline_only(built):
    results, paths = built
    claims = claims_of(results)
    html = paths["html"].read_text()
    table = html[html.index("<table id='claims'>") :]
    table = table[: table.index("</table>")]
    heads = re.findall(r"<th>([^<]*)</th>", table)
    assert heads == ["claim", "the article says", "verdict", "what we found"]
    for cid, (verdict, headline) in PINNED.items():
        assert f"<td><a href='#{cid}'>{cid}</a></td>" in table
        assert html_escape(headline) in table and f"class='badge {verdict}'" in table
        assert html_escape(claims.loc[cid].evidence) not in table  # they stay in the section
    verdict, headline = PINNED["C12"]
    section = html[html.index("<section id='C12'") :]
    section = section[: section.index("</section>")]
    assert f"<p class='headline'>{html_escape(headline)}</p>" in section
    assert "The numbers that decided it" in section and "Rule" in section
    summary = (results / "summary.md").read_text()
    assert "| claim | the article says | verdict | what we found |" in summary
    quote = CLAIMS["C12"].quote.replace("|", "/")
    assert f"| C12 | {quote} | {verdict} | {headline} |" in summary
    assert f"### C12 · {verdict}" in summary
    assert f"- evidence: {claims.loc['C12'].evidence}" in summary


def test_claims_csv_lists_every_claim_and_never_a_blank(built):
    results, _ = built
    claims = claims_of(results)
    assert list(claims.index) == list(CLAIMS)
    for col in ("quote", "verdict", "headline", "evidence", "conditions", "experiment", "plot"):
        assert (claims[col].str.strip() != "").all(), col


def test_scaling_claims_carry_numbers_with_intervals_conditions_and_a_plot(built):
    results, _ = built
    c11 = claims_of(results).loc["C11"]
    assert re.search(r"S=\d+\.\d+ \[\d+\.\d+, \d+\.\d+\]", c11.evidence)  # value [lo, hi]
    assert "p=" in c11.conditions and "cores" in c11.conditions
    assert c11["plot"] == "plots/scaling_speedup.svg"
    assert (results / c11["plot"]).exists()


def _without_memory(tmp_path, disabled):
    results = fixture_results(tmp_path)
    (results / "tables" / "memory.parquet").unlink()
    if disabled:
        run = json.loads((results / "run.json").read_text())
        run["config"]["experiments"]["memory"]["enabled"] = False
        (results / "run.json").write_text(json.dumps(run))
    build_report(results)
    return claims_of(results).loc["C4"]


def test_a_disabled_experiment_gives_a_not_run_row_that_says_why(tmp_path):
    c4 = _without_memory(tmp_path, disabled=True)
    assert c4.verdict == "not run" and c4.conditions == "not measured"
    assert "disabled in the config" in c4.reason and "memory" in c4.reason
    assert c4.headline == (
        "Not run: experiment 'memory' is disabled in the config (experiments.memory.enabled)."
    )


def test_a_missing_table_gives_a_not_run_row_that_says_why(tmp_path):
    c4 = _without_memory(tmp_path, disabled=False)
    assert c4.verdict == "not run" and "memory.parquet" in c4.reason
    assert c4.headline == "Not run: experiment 'memory' did not run (no table memory.parquet)."


def test_html_is_self_contained_small_and_ordered(built):
    _, paths = built
    html = paths["html"].read_text()
    assert paths["html"].stat().st_size < 5_000_000
    for pattern in (r"<script", r"<link", r"<img", r"\bsrc=", r"@import", r"url\((?!#)"):
        assert not re.search(pattern, html), pattern
    # the only URLs are SVG namespace names, which browsers never fetch
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    order = [html.index(s) for s in ("id='summary'", "id='C1'", "id='C13'", "id='quality'",
                                     "id='provenance'", "id='reproduce'")]  # fmt: skip
    assert order == sorted(order)
    for cid in CLAIMS:
        assert f"<section id='{cid}'" in html


def test_html_has_no_external_references(built):
    _, paths = built
    html = paths["html"].read_text()
    refs = re.findall(r'(?:href|src)="([^"#][^"]*)"', html) + re.findall(
        r"(?:href|src)='([^'#][^']*)'", html
    )
    assert [r for r in refs if not r.startswith("data:")] == []  # inline images only


def test_every_plot_is_inlined_once_and_ids_do_not_collide(built):
    results, paths = built
    html = paths["html"].read_text()
    plots = sorted((results / "plots").glob("*.svg"))
    assert len(plots) >= 11  # at least one per experiment
    assert html.count("<svg ") == len(plots)
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', html))
    assert refs <= set(ids)


def test_speedup_plot_has_the_amdahl_fit_bands_and_the_machine(built):
    results, _ = built
    svg = (results / "plots" / "scaling_speedup.svg").read_text()
    assert "fit: Amdahl (strong), Gustafson (weak)" in svg  # text stays text
    assert "p = 1..2" in svg and "cores)" in svg  # core range and machine in the title
    assert "speedup S(p) vs serial" in svg and "workers p (cores)" in svg
    assert "stroke-dasharray" in svg  # the dashed fitted curves


def test_report_without_the_model_table_says_the_model_was_not_run(built):
    # the checked-in folder has no tables/scaling_model.csv and the report never fits one;
    # the model table itself is tested in tests/test_scaling_model.py
    results, paths = built
    html = paths["html"].read_text()
    assert "<h2 id='model'>Scaling model</h2>" in html
    assert "The scaling model was not run" in html
    summary = (results / "summary.md").read_text()
    assert "## Scaling model" in summary and "The scaling model was not run" in summary


def test_quality_section_reports_intervals_flags_and_jobs(measured):
    _, paths = measured
    html = paths["html"].read_text()
    assert "median CI ±" in html and "drifting jobs" in html
    assert "All 5 jobs ran on host" in html or "jobs of this run span" in html


def test_provenance_and_reproduce_name_commit_config_and_cores(built):
    results, paths = built
    html = paths["html"].read_text()
    commit = json.loads((results / "provenance.json").read_text())["git"]["commit"]
    assert f"git checkout {commit}" in html
    assert "snakemake --cores 2 --configfile config.yaml" in html
    saved = yaml.safe_load((results / "report" / "config.yaml").read_text())
    assert saved == json.loads((results / "run.json").read_text())["config"]


def test_native_report_files_one_folder_per_claim_and_tables_as_html(built):
    results, _ = built
    folders = sorted(p.name for p in (results / "report" / "claims").iterdir())
    assert folders == [f"C{i:02d}" for i in range(1, 14)]
    assert all((results / "report" / "claims" / f / "verdict.html").exists() for f in folders)
    assert (results / "report" / "claims" / "C11" / "scaling_speedup.svg").exists()
    table = (results / "report" / "tables" / "scaling.html").read_text()
    assert "<table>" in table and "time_median" in table


def test_row_keys_tell_scaling_rows_apart(built):
    results, _ = built
    t = pd.read_parquet(results / "tables" / "scaling.parquet")
    assert row_keys(t) == ["point", "mode"]


def test_missing_tables_still_give_a_report_that_says_so(tmp_path):
    results = fixture_results(tmp_path)
    shutil.rmtree(results / "tables")
    (results / "run.json").unlink()  # no config: the reason is "did not run"
    paths = build_report(results)
    claims = claims_of(results)
    assert set(claims.verdict) == {"not run"}
    assert "no table" in claims.loc["C1"].reason and "scaling.parquet" in claims.loc["C1"].reason
    assert claims.loc["C1"].headline == (
        "Not run: experiment 'scaling' did not run (no table scaling.parquet)."
    )
    assert "did not run" in paths["html"].read_text()


def test_partial_table_is_marked_partial(tmp_path):
    results = fixture_results(tmp_path)
    path = results / "tables" / "scaling.parquet"
    t = pd.read_parquet(path)
    t[t.backend != "processes-fork"].to_parquet(path)
    paths = build_report(results)
    html = paths["html"].read_text()
    assert "partial" in html and "lacks 4 of 10 planned points" in html
    claims = claims_of(results)
    assert "from a partial table" in claims.loc["C11"].conditions
    assert "lacks the points that decide C1" in claims.loc["C1"].reason  # no process backend
    assert claims.loc["C1"].headline == (
        "Not run: experiment 'scaling' measured none of the points that decide C1."
    )


def test_verdict_code_that_fails_does_not_sink_the_report(tmp_path, monkeypatch):
    results = fixture_results(tmp_path)

    def broken(table, machine, threshold):
        raise RuntimeError("bug in the rules")

    import coresweep.analysis.verdicts.scaling as scaling

    monkeypatch.setattr(scaling, "scaling_verdicts", broken)
    build_report(results)
    claims = claims_of(results)
    assert "bug in the rules" in claims.loc["C1"].reason
    assert claims.loc["C1"].headline == (
        "Not run: the verdict rules of experiment 'scaling' failed (RuntimeError)."
    )
    assert (results / "plots" / "scaling_speedup.svg").exists()


def test_corrupt_table_is_named_exit_2_and_the_report_is_still_written(tmp_path, capsys):
    results = fixture_results(tmp_path)
    bad = results / "tables" / "scaling.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    assert main(["report", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert f"corrupt table {bad}" in err
    html = (results / "report" / "index.html").read_text()
    assert "unreadable" in html and str(bad) in html
    c1 = claims_of(results).loc["C1"]
    assert (c1.verdict, c1.headline) == (
        "not run",
        "Not run: the table scaling.parquet is unreadable.",
    )


def test_corrupt_raw_file_is_named_exit_2_and_nothing_else_is_lost(tmp_path, capsys):
    results = measured_results(tmp_path)
    raw = sorted((results / "raw" / "scaling").glob("*.json"))
    broken = raw[0].with_name("zz_broken.json")
    broken.write_text('{"point": {"id": "x"}, "result": ')
    table = results / "tables" / "scaling.parquet"
    before = table.read_bytes()
    code = main(["aggregate", "--experiment", "scaling", "--out", str(table),
                 *map(str, raw), str(broken)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "corrupt raw result file" in err
    assert table.read_bytes() == before
    assert all(p.exists() for p in raw)


def test_compare_a_run_with_itself_finds_no_difference(built, tmp_path, capsys):
    results, _ = built
    c = compare_runs(results, results)
    assert not c.rows.differs.fillna(False).any()
    assert (c.claims.agree == "yes").all()
    assert main(["compare", str(results), str(results), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "no time difference exceeds its intervals" in out
    assert "verdicts agree on 13 of 13 claims" in out


def test_compare_flags_a_run_twice_as_slow(built, tmp_path, capsys):
    results, _ = built
    slow = tmp_path / "slow"
    shutil.copytree(results, slow)
    t = pd.read_parquet(slow / "tables" / "scaling.parquet")
    for col in ("time_median", "time_ci_lo", "time_ci_hi"):
        t[col] *= 2
    t.to_parquet(slow / "tables" / "scaling.parquet")
    out = tmp_path / "cmp"
    assert main(["compare", str(results), str(slow), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = pd.read_csv(out / "comparison.csv")
    time_rows = rows[(rows.quantity == "time") & (rows.experiment == "scaling")]
    assert len(time_rows) == len(t) and (time_rows.ratio.round(6) == 2.0).all()
    # doubled, a row differs exactly when its interval no longer overlaps the original one
    apart = 2 * time_rows.a_ci_lo > time_rows.a_ci_hi
    assert (time_rows.differs == apart).all() and apart.any()
    assert f"B faster in 0, slower in {int(apart.sum())}" in printed
    assert not rows[rows.quantity == "speedup"].differs.any()  # speedups were left alone
    assert (out / "compare_scaling.svg").read_text().count("<svg") == 1
    html = (out / "comparison.html").read_text()
    assert "<svg" in html and "Differences beyond the intervals" in html


def test_compare_needs_two_results_folders(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope"), str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "no results folder" in capsys.readouterr().err


def test_report_reads_job_facts_from_tables_with_no_raw_folder(tmp_path):
    results = measured_results(tmp_path)
    raw = sorted((results / "raw" / "scaling").glob("*.json"))
    rec = json.loads(raw[0].read_text())
    rec["result"]["job"] |= {"drift": 0.2, "drift_flag": True}
    rec["result"]["job"]["capacity_start"] |= {"capacity": 0.8, "waited_s": 1.5}
    rec["result"]["job"]["capacity_end"] |= {"capacity": 0.9}
    rec["result"]["job"]["capacity_flag"] = True
    raw[0].write_text(json.dumps(rec))
    aggregate_all(results)
    shutil.rmtree(results / "raw")
    table = pd.read_parquet(results / "tables" / "scaling.parquet")
    assert {"job_seconds", "drift_flag", "capacity_flag", "commit", "versions_hash"} <= set(table)
    html = build_report(results)["html"].read_text()
    assert f"job {rec['point']['id']}" in html
    assert "reference kernel drifted +20.0% during the job" in html
    assert "the machine delivered only 0.80 cores" in html
    assert "drifting jobs" in html and "jobs short of cores" in html
    assert f"All {table.point.nunique()} jobs ran on host" in html


def test_a_table_of_another_format_is_refused_naming_it_and_the_rest_reported(tmp_path):
    """Every row carries its table format's version; a table without it (or of another) is
    unreadable with the reason, and the report goes on with the others."""
    from coresweep.report.inputs import load_inputs

    results = fixture_results(tmp_path)
    path = results / "tables" / "load.parquet"
    pd.read_parquet(path).drop(columns="schema_version").to_parquet(path, index=False)
    inputs = load_inputs(results)
    assert inputs.status["load"].state == "unreadable"
    assert inputs.status["load"].detail == (
        f"table {path} has schema_version None; this coresweep reads version 1: rebuild it "
        "from its raw files (`coresweep aggregate`), or read it with the coresweep that wrote it"
    )
    assert inputs.status["scaling"].state == "ok"
