"""The decision engine: exact decisions on each side of each bar and band, disturbances of
each size, and declarations refused at import with the claim's id."""

from __future__ import annotations

import pandas as pd
import pytest

from coresweep.analysis.verdicts.engine import (
    EITHER,
    LOWERS,
    RAISES,
    Case,
    Claim,
    Disturbance,
    Rate,
    Ratio,
    Words,
    decide_case,
    disturbances,
    evaluate,
    factors,
    threshold_of,
)
from coresweep.analysis.verdicts.scaling import C11
from coresweep.stats import binomial

T = 0.05
CAP = Disturbance("capacity", 2 / 1.67, RAISES, "probe 1.67 of 2 cores")  # slowed process side


def given(cases: list[Case]):
    def quantity(table: pd.DataFrame) -> list[Case]:
        return cases

    return quantity


def claim(cases: list[Case], **kw) -> Claim:
    words = Words("faster", "not faster", "the size", equal="no faster")
    return Claim("C5", given(cases), kw.pop("bar", Ratio()), words,
                 disturbances=kw.pop("disturbances", ("capacity", "drift", "flag",
                                                      "oversubscription")), **kw)  # fmt: skip


def decision(case: Case, **kw) -> str:
    return decide_case(claim([case], **kw), case, T).decision


def test_a_46x_ratio_with_a_capacity_flag_of_1_67_of_2_is_decided():
    c = Case("16 MiB", "k", 46.0, 40.8, 53.0, (CAP,))
    d = decide_case(claim([c]), c, T)
    assert d.decision == "yes" and round(d.lo_w, 2) == 34.07 and d.hi_w == 53.0


def test_a_1_3x_ratio_with_the_same_flag_lowering_it_is_not_decided():
    c = Case("8 B", "k", 1.3, 1.14, 1.97, (Disturbance("capacity", 2 / 1.67, RAISES),))
    d = decide_case(claim([c]), c, T)
    assert d.decision == "undecided"
    assert d.reason.startswith("interval [0.95, 1.97] (widened by capacity (x1.2)) straddles")


def test_s_1_00_within_the_band_decides_no_for_c11():
    c = Case("mc-python", "k", 1.00, 0.95, 1.05, workers=2)
    assert decide_case(C11, c, T).decision == "no"
    v = evaluate(
        Claim("C11", given([c]), C11.bar, C11.words, disturbances=C11.disturbances),
        pd.DataFrame(),
        "box",
    )
    assert v.verdict == "refuted"
    assert v.headline == "No for mc-python (no faster: 1.00×, within ±5%)."


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (1.051, 1.2, "yes"),  # just above the bar
        (1.04, 1.2, "undecided"),  # straddles the bar
        (0.95, 1.05, "no"),  # the band's edges are inside
        (1.0, 1.051, "undecided"),  # just past the band's top edge, which is the bar
        (0.949, 1.04, "no"),  # out of the band, but wholly on the losing side
        (0.7, 1.049, "no"),  # wholly below the bar
    ],
)
def test_each_side_of_the_bar_and_the_band(lo, hi, expected):
    assert decision(Case("g", "k", (lo + hi) / 2, lo, hi)) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1.0, "yes"), (1.10, "yes"), (1.25, "undecided")],  # lower bound 1.3 / size vs 1.05
)
def test_a_disturbance_widens_by_its_size_on_the_side_it_can_act(size, expected):
    drift = Disturbance("drift", size, EITHER)
    assert decision(Case("g", "k", 1.4, 1.3, 1.5, (drift,))) == expected
    # the same size acting only the other way (it can only have lowered the ratio) never
    # blocks a "yes"
    assert decision(Case("g", "k", 1.4, 1.3, 1.5, (Disturbance("drift", size, LOWERS),))) == "yes"


def test_an_unmeasured_flag_blocks_only_the_decision_it_could_cause():
    slows = Disturbance("oversubscription", None, LOWERS, "inner-oversubscribed")
    assert decision(Case("g", "k", 2.0, 1.9, 2.1, (slows,))) == "yes"
    c = Case("g", "k", 0.8, 0.7, 0.9, (slows,))
    d = decide_case(claim([c]), c, T)
    assert d.decision == "undecided"
    assert d.reason == (
        "flagged inner-oversubscribed (size not measured), which could have caused this 'no'"
    )
    broken = Disturbance("flag", None, EITHER, "check-failed")
    assert decision(Case("g", "k", 2.0, 1.9, 2.1, (broken,))) == "undecided"


def test_a_disturbance_the_claim_does_not_declare_moves_nothing():
    c = Case("g", "k", 1.4, 1.3, 1.5, (Disturbance("drift", 2.0, EITHER),))
    assert decision(c, disturbances=("capacity",)) == "yes"


def test_flags_get_their_measured_sizes_from_the_row():
    row = {"flags": "low-capacity;reference-drift;cv>10%;check-failed;inner-oversubscribed",
           "probe_capacity": 1.6, "probe_cores": 2, "drift": -0.1,
           "load_per_core_start": 0.5}  # fmt: skip
    found = disturbances(row, LOWERS)
    assert [(d.kind, d.size, d.direction, d.note) for d in found] == [
        ("capacity", pytest.approx(1.25), LOWERS, "low-capacity, 1.60 of 2 cores delivered"),
        ("drift", pytest.approx(1.1), EITHER, "reference-drift, 10.0%"),  # sped up or slowed
        ("flag", None, EITHER, "check-failed"),  # a fact: unmeasured, either way
        ("oversubscription", None, LOWERS, "inner-oversubscribed"),
    ]  # cv>10% is noise the row's interval carries; the load at start flags nothing


def test_a_rule_may_say_what_one_of_its_flags_does():
    from coresweep.flags import Flag

    row = {"flags": "arrivals-late;unfinished-requests;p99-from-<100-requests"}
    kinds = {Flag.ARRIVALS_LATE: "slow", Flag.UNFINISHED_REQUESTS: None}
    found = disturbances(row, RAISES, who="threads", kinds=kinds)
    assert [(d.kind, d.direction, d.note) for d in found] == [
        ("slow", RAISES, "threads: arrivals-late"),
        ("flag", EITHER, "threads: p99-from-<100-requests"),
    ]


def test_a_table_flag_this_coresweep_does_not_know_is_refused_by_its_text():
    with pytest.raises(ValueError, match="unknown flag 'high-load-at-start' in a table row"):
        disturbances({"flags": "low-capacity;high-load-at-start"}, LOWERS)


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [(1, 6, "no"), (0, 5, "yes"), (0, 3, "undecided"), (0, 1, "undecided")],
)
def test_loss_rates_are_decided_with_the_exact_binomial_interval(k, n, expected):
    rate, lo, hi = binomial(k, n)
    assert decision(Case("pool", "k", rate, lo, hi), bar=Rate(0.55)) == expected


def test_the_band_default_is_the_runs_difference_threshold():
    assert threshold_of({"protocol": {"difference_threshold": 0.1}}) == 0.1
    assert threshold_of(None) == 0.05
    c = Case("g", "k", 1.0, 0.92, 1.08)
    assert decide_case(claim([c]), c, 0.1).decision == "no"
    assert decide_case(claim([c]), c, 0.05).decision == "undecided"


def test_a_declaration_with_an_unknown_disturbance_fails_naming_the_claim():
    with pytest.raises(ValueError, match=r"claim C5: unknown disturbance \['weather'\]"):
        claim([], disturbances=("capacity", "weather"))


def test_a_band_wider_than_its_bar_fails_naming_the_claim():
    with pytest.raises(ValueError, match=r"claim C5: band ±0.1 is wider than its bar"):
        claim([], bar=Ratio(margin=0.05), band=0.1)


def test_a_quantity_that_returns_no_interval_fails_naming_the_claim():
    def numbers(table: pd.DataFrame) -> list[float]:
        return [1.0]

    with pytest.raises(ValueError, match=r"claim C5: quantity numbers must return list\[Case\]"):
        Claim("C5", numbers, Ratio(), Words("a", "b", "c"))
    nan = Case("g", "k", 1.0, float("nan"), float("nan"))
    with pytest.raises(
        ValueError, match="claim C5: quantity returned case 'k' without an interval"
    ):
        evaluate(claim([nan]), pd.DataFrame(), "box")


def test_the_report_writes_every_sub_case_and_counts_them_in_the_summary(tmp_path):
    from reportdata import fixture_results

    from coresweep.report.build import build_report

    results = fixture_results(tmp_path)
    paths = build_report(results)
    cases = pd.read_csv(results / "tables" / "verdict_cases.csv")
    parquet = pd.read_parquet(results / "tables" / "verdict_cases.parquet")
    assert list(parquet.case) == list(cases.case) and list(parquet.decision) == list(cases.decision)
    c11 = cases[cases.claim == "C11"].set_index("case")
    numba = c11.loc["kernel=mc-numba|backend=threads|mode=strong"]
    # inner-oversubscribed only slows: it cannot have caused this "yes"; drift 6.2% widens
    # it by 6.2% / its paired rounds only
    assert (numba.decision, round(numba.hi_widened, 2), numba.bar) == ("yes", 1.86, 1.05)
    assert c11.loc["kernel=mc-python|backend=threads|mode=strong"].decision == "no"
    summary = (results / "summary.md").read_text()
    n = len(cases)
    decided = int((cases.decision != "undecided").sum())
    assert f"Sub-cases: {decided} decided of {n} " in summary
    html = paths["html"].read_text()
    assert f"Sub-cases: {decided} decided of {n} " in html


def test_every_claim_is_declared_once_and_its_rule_is_rendered_from_the_declaration():
    from coresweep.analysis.verdicts.registry import declarations
    from coresweep.claims import CLAIMS

    declared = declarations()
    assert sorted(declared) == sorted(CLAIMS)
    assert all(d.experiment == CLAIMS[cid].experiment for cid, d in declared.items())
    assert (
        declared["C11"]
        .rule(0.1)
        .startswith(
            "per kernel: yes when the (widened) 95% interval lies above 1.1×, no when it lies "
            "inside the band [0.9, 1.1]× or wholly on the other side"
        )
    )
    assert "no as soon as one event is observed" in declared["C6"].rule()
    assert "yes when its lower bound lies above 5%" in declared["C12"].rule()


def test_an_observed_fact_decides_unless_an_unmeasured_flag_could_have_caused_it():
    from coresweep.analysis.verdicts.engine import Fact

    seen, unseen = Case("g", "k", 1.0, 1.0, 1.0), Case("g", "k", 0.0, 0.0, 0.0)
    assert decision(seen, bar=Fact(), band=None) == "yes"
    assert decision(unseen, bar=Fact(), band=None) == "no"
    hidden = Case("g", "k", 0.0, 0.0, 0.0, (Disturbance("capacity", 1.5, LOWERS),))
    assert decision(hidden, bar=Fact(), band=None) == "undecided"  # no size fits a fact


def test_one_points_drift_counts_once_for_the_arms_it_measured_and_once_per_point():
    """Two arms of a ratio measured in one point share its drift: it bounds their ratio by
    its own size (x1.5), not by its square; arms of two points each bring their own."""

    def arm(who: str, point: str) -> tuple[Disturbance, ...]:
        row = {"flags": "reference-drift", "drift": 0.5, "point": point}
        return disturbances(row, LOWERS, who=who)

    one = Case("g", "k", 2.0, 1.9, 2.1, arm("dask-processes", "dask") + arm("dask-threads", "dask"))
    d = decide_case(claim([one]), one, T)
    assert (round(d.lo_w, 3), round(d.hi_w, 3)) == (1.267, 3.15) and d.decision == "yes"
    assert "(widened by dask-processes: reference-drift, 50.0% (x1.5))" in d.reason
    two = Case("g", "k", 2.0, 1.9, 2.1, arm("processes", "p") + arm("threads", "t"))
    d = decide_case(claim([two]), two, T)
    assert (round(d.lo_w, 3), round(d.hi_w, 3)) == (0.844, 4.725) and d.decision == "undecided"
    # drifts that name no point (hand-built cases) are each their own, as before
    bare = (Disturbance("drift", 1.5, EITHER, "a"), Disturbance("drift", 1.5, EITHER, "b"))
    assert factors(Case("g", "k", 2, 1.9, 2.1, bare), ("drift",))[:2] == (2.25, 2.25)


def test_two_rows_are_paired_by_round_only_from_one_point_with_as_many_samples():
    from coresweep.analysis.verdicts.engine import paired_rounds

    a = {"point": "pinned__cpu-auto", "n": 15}
    assert paired_rounds(a, dict(a)) == 15
    assert paired_rounds(a, {**a, "n": 14}) is None  # one arm stopped sooner: not paired
    assert paired_rounds(a, {**a, "point": "unpinned__all"}) is None
    assert paired_rounds({"n": 15}, {"n": 15}) is None  # no point named: nothing to pair by
    assert paired_rounds({**a, "n": 1}, {**a, "n": 1}) is None
