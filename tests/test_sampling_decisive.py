"""Sampling until decisive: a deciding ratio that straddles its bar gets more samples, up to
the cap and the budget, and every arm says why it stopped."""

from __future__ import annotations

import itertools

import pytest

from coresweep.experiments.estimates import sampling_seconds
from coresweep.measure import sampling
from coresweep.measure.timer import Timing

PROTO = dict(warmup=1, repeats=5, max_repeats=5, min_sample_seconds=0.0,
             target_rel_halfwidth=1e-9, point_budget_seconds=60.0,
             difference_threshold=0.05, decisive_max_repeats=12,
             decisive_budget_seconds=60.0, decisive_budget_share=1.0)  # fmt: skip


@pytest.fixture
def clock(monkeypatch):
    """A clock under the test's control: arm name -> iterator of wall seconds (warm-up first)."""
    walls: dict[str, itertools.cycle] = {}

    def fake_timed(fn):
        name = fn()
        return name, Timing(wall=next(walls[name]), cpu=0.0)

    monkeypatch.setattr(sampling, "timed", fake_timed)
    return walls


def _sample(clock, walls, decide, ledger=None, together=True, **kw):
    for name, w in walls.items():
        clock[name] = iter(w) if isinstance(w, list) else w
    arms = {name: (lambda n=name: n) for name in walls}
    proto = sampling.Protocol(**{**PROTO, **kw})
    # a job that has banked a minute: these calls take no real time to earn their own share
    ledger = ledger if ledger is not None else sampling.Ledger(credit=60.0)
    return sampling.sample_arms(
        arms, proto, seed=1, together=together, decide=decide, ledger=ledger
    )


def test_a_ratio_clear_of_its_bar_stops_with_the_ordinary_protocol(clock):
    # serial 2 s, parallel 1 s: speedup 2.0 [2.0, 2.0], far above 1.05
    out = _sample(clock, {"serial": itertools.repeat(2.0), "par": itertools.repeat(1.0)},
                  [("serial", "par")])  # fmt: skip
    assert [len(out[a].wall) for a in ("serial", "par")] == [5, 5]
    assert out["par"].stopped_on == "precision" and out["par"].extra_rounds == 0


def test_a_ratio_inside_the_band_is_a_decision_too(clock):
    # speedup 1.00 and 1.02 alternating: entirely below the bar 1.05 ("no")
    out = _sample(clock, {"serial": itertools.cycle([1.0, 1.02]), "par": itertools.repeat(1.0)},
                  [("serial", "par")])  # fmt: skip
    assert len(out["par"].wall) == 5 and out["par"].extra_rounds == 0
    assert out["serial"].stopped_on == "max_repeats"


def test_a_straddling_ratio_samples_on_until_decided(clock):
    # rounds 1-5 give speedups 1.25 and 1.0 (straddling 1.05); every later round 1.25
    par = itertools.chain([1.0], [0.8, 1.0, 0.8, 1.0, 0.8], itertools.repeat(0.8))
    out = _sample(clock, {"serial": itertools.repeat(1.0), "par": par}, [("serial", "par")])
    assert len(out["par"].wall) == 10 and out["par"].extra_rounds == 5
    assert out["par"].stopped_on == out["serial"].stopped_on == "decided"
    r, lo, hi = sampling.Decision("serial", "par").interval(out, paired=True)
    assert lo > 1.05 and r == pytest.approx(1.25)
    # one round less and it still straddled: the sampler stopped at the first decisive round
    short = {k: sampling.ArmSamples(wall=v.wall[:-1]) for k, v in out.items()}
    assert not sampling.decisive(
        *sampling.Decision("serial", "par").interval(short, True)[1:], 0.05
    )


def test_a_ratio_that_keeps_straddling_stops_at_the_cap(clock):
    out = _sample(clock, {"serial": itertools.repeat(1.0), "par": itertools.cycle([1.0, 0.8])},
                  [("serial", "par")])  # fmt: skip
    assert len(out["par"].wall) == len(out["serial"].wall) == 12
    assert out["par"].stopped_on == "cap" and out["par"].extra_rounds == 7


def test_the_scale_of_a_ratio_moves_it_across_the_bar(clock):
    # 4 tasks serially vs 8 tasks in parallel, equal times: speedup 2 x 1.0 (decisive)
    walls = {"serial": itertools.repeat(1.0), "par": itertools.cycle([1.0, 1.1])}
    out = _sample(clock, walls, [sampling.Decision("serial", "par", scale=2.0)])
    assert len(out["par"].wall) == 5


def test_an_empty_ledger_stops_a_straddling_ratio_on_budget(clock):
    ledger = sampling.Ledger()
    out = _sample(clock, {"serial": itertools.repeat(1.0), "par": itertools.cycle([1.0, 0.8])},
                  [("serial", "par")], ledger=ledger, decisive_budget_share=0.0)  # fmt: skip
    assert len(out["par"].wall) == 5 and out["par"].stopped_on == "budget"
    assert ledger.credit == 0.0 and ledger.spent >= 0.0


def test_every_deciding_call_credits_the_job_ledger_and_extra_sampling_spends_it(clock):
    ledger = sampling.Ledger()
    _sample(clock, {"serial": itertools.repeat(2.0), "par": itertools.repeat(1.0)},
            [("serial", "par")], ledger=ledger, decisive_budget_share=0.5)  # fmt: skip
    assert ledger.credit > 0 and ledger.spent == 0
    credit = ledger.credit
    _sample(clock, {"serial": itertools.repeat(1.0), "par": itertools.cycle([1.0, 0.8])},
            [("serial", "par")], ledger=ledger, decisive_budget_share=0.5)  # fmt: skip
    assert ledger.credit > credit and ledger.spent > 0


def test_a_decision_naming_an_unknown_arm_is_refused(clock):
    with pytest.raises(ValueError, match=r"not sampled: \['weak'\]"):
        _sample(clock, {"serial": itertools.repeat(1.0)}, [("serial", "weak")])


def test_protocol_reads_the_decisive_keys_from_config():
    p = sampling.Protocol.from_config({"difference_threshold": 0.1, "decisive_max_repeats": 9,
                                       "decisive_budget_seconds": 1.5, "retries": 3})  # fmt: skip
    assert (p.difference_threshold, p.decisive_max_repeats, p.decisive_budget_seconds) == (
        0.1, 9, 1.5)  # fmt: skip


def test_sampled_apart_an_arm_waits_for_its_partner_in_a_ratio(clock):
    # "serial" is precise after 5 samples, "par" only stops at max_repeats (8): serial keeps
    # sampling beside it, so the ratio is weighed on both arms' final samples
    walls = {"serial": itertools.repeat(1.0), "par": itertools.cycle([1.0, 1.05]),
             "alone": itertools.repeat(1.0)}  # fmt: skip
    out = _sample(clock, walls, [("serial", "par")], together=False, max_repeats=8)
    assert [len(out[a].wall) for a in ("serial", "par", "alone")] == [8, 8, 5]
    assert out["serial"].stopped_on == "precision" and out["par"].stopped_on == "max_repeats"
    assert out["serial"].extra_rounds == out["par"].extra_rounds == 0


def test_the_planner_adds_the_expected_extra_sampling_of_straddling_points():
    proto = {"warmup": 1, "repeats": 5, "max_repeats": 6, "min_sample_seconds": 0.04,
             "point_budget_seconds": 4, "decisive_max_repeats": 10,
             "decisive_budget_seconds": 1.5, "decisive_budget_share": 0.08}  # fmt: skip
    # two arms of 0.5 s: 1 s of warm-up, 5 rounds of 1 s
    assert sampling_seconds([0.5, 0.5], proto) == pytest.approx(6.0)
    # a quarter of the points straddle and sample on for the 1.5 s budget (5 more rounds fit)
    assert sampling_seconds([0.5, 0.5], proto, decisive=True) == pytest.approx(6.0 + 0.375)
    # ... unless the job's share bounds it: 5% of 6 s
    low = proto | {"decisive_budget_share": 0.05}
    assert sampling_seconds([0.5, 0.5], low, decisive=True) == pytest.approx(6.0 + 0.3)
    # no more rounds under the cap: nothing to add
    capped = proto | {"decisive_max_repeats": 5}
    assert sampling_seconds([0.5, 0.5], capped, decisive=True) == pytest.approx(6.0)
