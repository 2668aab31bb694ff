"""`coresweep compare A B`: the verdicts of two runs side by side, read from their claims.csv."""

from __future__ import annotations

import math
import re

import pandas as pd

from coresweep.cli import main
from coresweep.report.compare import compare_runs, differs

TABLE = """\
claim  verdict A     verdict B     agree
C1     supported     supported     yes
C2     refuted       refuted       yes
C3     conditional   inconclusive  no
C4     supported     not run       -
C5     conditional   conditional   yes
C6     not run       not run       -
C7     refuted       refuted       yes
C8     supported     supported     yes
C9     inconclusive  inconclusive  yes
C10    supported     supported     yes
C11    conditional   conditional   yes
C12    supported     refuted       no
C13    supported     supported     yes
verdicts agree on 9 of 11 claims (2 more not run in A or B: not compared)"""
# the claims.csv of each run hold the verdicts of the table: C3 and C12 differ, C4 was not
# run in B, C6 in neither
ROWS = [re.split(r"\s{2,}", line) for line in TABLE.splitlines()[1:14]]
RUN_A = [r[1] for r in ROWS]
RUN_B = [r[2] for r in ROWS]


def results_folder(path, verdicts, headline=True):
    """A results folder holding only a hand-written claims.csv."""
    path.mkdir()
    rows = [
        {"claim": f"C{i}", "verdict": v, "evidence": f"numbers of C{i}"}
        | ({"headline": f"C{i} is {v}."} if headline else {})
        for i, v in enumerate(verdicts, 1)
    ]
    pd.DataFrame(rows).to_csv(path / "claims.csv", index=False)
    return path


def test_compare_prints_each_verdict_pair_and_how_many_agree(tmp_path, capsys):
    a = results_folder(tmp_path / "a", RUN_A)
    b = results_folder(tmp_path / "b", RUN_B, headline=False)  # claims.csv of an older run
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert TABLE in printed
    assert "no experiment table in common: only the verdicts are compared" in printed
    saved = pd.read_csv(out / "claims.csv", keep_default_na=False)
    assert list(saved.agree) == [r[3] for r in ROWS]
    assert saved.headline_a[0] == "C1 is supported." and saved.headline_b[0] == ""
    html = (out / "comparison.html").read_text()
    assert "verdicts agree on 9 of 11 claims" in html


def test_a_claim_missing_from_one_run_is_not_compared(tmp_path):
    a = results_folder(tmp_path / "a", RUN_A[:12])  # no C13 row
    b = results_folder(tmp_path / "b", RUN_A)
    c = compare_runs(a, b)
    c13 = c.claims.set_index("claim").loc["C13"]
    assert (c13.verdict_a, c13.verdict_b, c13.agree) == ("(none)", "supported", "-")
    assert c.claims.agree.tolist().count("-") == 2  # C6 (not run) and C13


def test_compare_needs_a_table_or_verdicts_in_both_runs(tmp_path, capsys):
    a = results_folder(tmp_path / "a", RUN_A)
    (tmp_path / "b").mkdir()
    assert main(["compare", str(a), str(tmp_path / "b"), "--out", str(tmp_path / "c")]) == 2
    assert "no experiment table in common" in capsys.readouterr().err


def cases_folder(path, decisions):
    """A results folder with a claims.csv and a tables/verdict_cases.csv of these decisions."""
    results_folder(path, RUN_A)
    (path / "tables").mkdir()
    rows = [{"claim": claim, "case": case, "decision": d} for (claim, case), d in decisions.items()]
    pd.DataFrame(rows).to_csv(path / "tables" / "verdict_cases.csv", index=False)
    return path


A_CASES = {("C5", "family=multiprocessing|size=8"): "yes",
           ("C5", "family=multiprocessing|size=65536"): "undecided",
           ("C6", "backend=dask-processes|fault=sigkill"): "yes",
           ("C11", "kernel=mc-python|backend=threads|mode=strong"): "no"}  # fmt: skip


def test_compare_counts_sub_cases_and_exits_non_zero_on_an_inversion(tmp_path, capsys):
    b_cases = {**A_CASES, ("C5", "family=multiprocessing|size=65536"): "yes",
               ("C6", "backend=dask-processes|fault=sigkill"): "no"}  # fmt: skip
    a, b = cases_folder(tmp_path / "a", A_CASES), cases_folder(tmp_path / "b", b_cases)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 1
    out = capsys.readouterr()
    assert "C6:\n  backend=dask-processes|fault=sigkill  yes        no         inverted" in out.out
    assert (
        "sub-cases: 2 of 4 agree, 1 moved between decided and undecided, 1 inverted "
        "(yes <-> no); 0 in one run only"
    ) in out.out
    assert "1 sub-case(s) inverted" in out.err
    saved = pd.read_csv(tmp_path / "cmp" / "verdict_cases.csv")
    assert list(saved.change) == ["moved", "agree", "inverted", "agree"]  # by claim, then key


def test_compare_without_inversions_exits_zero_and_names_cases_in_one_run(tmp_path, capsys):
    b_cases = {k: v for k, v in A_CASES.items() if k[0] != "C11"}
    a, b = cases_folder(tmp_path / "a", A_CASES), cases_folder(tmp_path / "b", b_cases)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    assert "3 of 3 agree, 0 moved between decided and undecided, 0 inverted" in (
        capsys.readouterr().out
    )


def test_differs_needs_apart_intervals_and_the_threshold():
    """B/A is the widest ratio the two intervals allow; it counts only when the intervals do
    not overlap and B/A is more than the threshold away from 1."""
    yes, (r, lo, hi) = differs((1.0, 0.9, 1.1), (2.0, 1.8, 2.2), 0.05)
    assert yes and r == 2.0
    assert (lo, hi) == (1.8 / 1.1, 2.2 / 0.9)
    assert not differs((1.0, 0.9, 1.1), (1.15, 1.05, 1.25), 0.05)[0]  # the intervals overlap
    assert not differs((1.0, 0.99, 1.01), (1.03, 1.02, 1.04), 0.05)[0]  # apart, below 5%
    assert differs((1.0, 0.99, 1.01), (1.03, 1.02, 1.04), 0.02)[0]
    no, ratio = differs((0.0, 0.0, 1.0), (1.0, 0.9, 1.1), 0.05)  # A's interval touches 0
    assert not no and all(math.isnan(x) for x in ratio)


def test_a_comparison_goes_to_results_unless_told_otherwise():
    from coresweep.cli import build_parser

    assert build_parser().parse_args(["compare", "a", "b"]).out == "results/comparison"
    assert build_parser().parse_args(["compare", "a", "b", "--out", "x"]).out == "x"
