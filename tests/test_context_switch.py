"""C7 context switches: planning, a tiny pinned ping-pong, OS counts, verdict rules, plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pinned import measure_restoring

from coresweep import config as cfg
from coresweep.analysis.verdicts import THRESHOLD, clears, combine, holding
from coresweep.analysis.verdicts.context_switch import context_switch_verdicts
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.experiments import context_switch as exp
from coresweep.measure.cores import Node, affinity
from coresweep.report.plots.registry import plots as plots_of
from coresweep.stats import paired_ratio_ci

PROTOCOL = {"repeats": 6, "max_repeats": 6, "min_sample_seconds": 0.01, "point_budget_seconds": 1}
TINY = {
    "round_trips_per_call": 20,
    "count_round_trips": 200,
    # no decisive extra samples: the tests below count exactly 3
    "protocol": {"repeats": 6, "max_repeats": 6, "decisive_max_repeats": 6},
}


def _config(**kw):
    return cfg.validate({"protocol": PROTOCOL, "experiments": {"context_switch": {**TINY, **kw}}})


@pytest.fixture(scope="module")
def records():
    return measure_restoring(exp, _config())


def test_the_pipe_pair_decides_when_both_of_its_sides_are_measured():
    assert exp._decide(exp.MECHANISMS) == [("process-pipe", "thread-pipe")]
    assert exp._decide(["thread-lock", "process-pipe"]) == []
    # the planner adds its expected extra sampling only where a ratio decides
    proto = {"repeats": 6, "max_repeats": 6}  # decisive_max_repeats at its default
    both, one = (exp.points(_config(mechanisms=m, protocol=proto), Node.here(2))[0].seconds
                 for m in (["thread-pipe", "process-pipe"], ["thread-lock", "process-pipe"]))  # fmt: skip
    assert both > one


def test_one_point_per_pin_mode():
    pts = exp.points(_config(), Node.here(2))
    assert [p.id for p in pts] == ["pinned__cpu-auto", "unpinned__all"]
    pinned, unpinned = (p.typed(exp.Params) for p in pts)
    assert (pinned.pin, pinned.cpu, pinned.threads) == ("pinned", "auto", 1)
    assert (unpinned.pin, unpinned.threads) == ("unpinned", 2)
    assert pinned.mechanisms == list(exp.MECHANISMS)


def test_pinned_partners_share_the_one_cpu(records):
    pinned = next(r["result"] for r in records if r["result"]["pin"] == "pinned")
    assert pinned["cpus"] == [affinity()[-1]]
    for m in pinned["mechanisms"]:
        assert m["partner_affinity"] == pinned["cpus"], m["mechanism"]
        assert len(m["wall"]) == 6 and min(m["wall"]) > 0


def test_the_os_counts_switches_for_every_handoff(records):
    pinned = next(r["result"] for r in records if r["result"]["pin"] == "pinned")
    for m in pinned["mechanisms"]:
        ctx = m["ctx_per_round_trip"]
        # on one CPU the partner can only run if the caller leaves it: >= 1 switch per trip
        assert ctx["voluntary"] + ctx["involuntary"] >= 1, m["mechanism"]


def test_table_verdict_and_plot(records, tmp_path):
    t = exp.aggregate(records)
    assert len(t) == 10
    assert set(t.party) == {"thread", "process"}
    assert (t.us_ci_lo <= t.us_per_switch).all() and (t.us_per_switch <= t.us_ci_hi).all()
    assert t.wall_samples.map(len).eq(6).all()
    # like with like: both pipe mechanisms ride one os.pipe pair; the others are their own
    transport = t[t.pin == "pinned"].set_index("mechanism").transport
    assert transport.to_dict() == {"thread-lock": "thread-lock", "thread-event": "thread-event",
                                   "thread-pipe": "os-pipe", "process-pipe": "os-pipe",
                                   "process-mp-pipe": "process-mp-pipe"}  # fmt: skip
    (v,) = verdicts_of("context_switch", t, "testbox")
    assert v.claim == "C7" and v.plots == ("context_switch.svg",)
    assert "pinned" in v.evidence and "vol" in v.evidence
    (path,) = plots_of("context_switch", t, tmp_path, "testbox")
    assert (path.name,) == v.plots and "<svg" in path.read_text()


def test_measured_verdict_is_what_its_ratio_intervals_imply(records):
    """Without its flags, the tiny run decides each pin mode exactly from the interval of
    process-pipe / thread-pipe time (like with like: one os.pipe pair), paired round by
    round (the arms share their rounds)."""
    t = exp.aggregate(records).assign(flags="")
    results = {}
    for pin, g in t.groupby("pin"):
        g = g.set_index("mechanism")
        _, lo, hi = paired_ratio_ci(
            np.asarray(g.loc["process-pipe", "wall_samples"]),
            np.asarray(g.loc["thread-pipe", "wall_samples"]),
        )
        # unpinned, the scheduler's placement sets the ratio for the run: never decided
        results[str(pin)] = None if pin == "unpinned" else clears(lo, hi, 1 + THRESHOLD)
    (v,) = context_switch_verdicts(t, "testbox")
    assert v.verdict == combine(results)
    assert f"holds for {holding(results, True) or 'none'}" in v.conditions
    assert "same os-pipe: thread thread-pipe" in v.evidence and "best vs best" in v.evidence


def _row(pin, mech, party, wall):
    """A table row from wall seconds per call (100 round trips: µs per switch = wall * 5e3);
    the interval is the samples' range around their median, so lo <= median <= hi."""
    return {
        "pin": pin,
        "cpus": "1",
        "mechanism": mech,
        "party": party,
        "round_trips_per_call": 100,
        "us_per_switch": float(np.median(wall)) * 5e3,
        "us_ci_lo": min(wall) * 5e3,
        "us_ci_hi": max(wall) * 5e3,
        "voluntary_per_round_trip": 1.0,
        "involuntary_per_round_trip": 1.0,
        "wall_samples": wall,
    }


def test_unpinned_is_reported_but_only_pinned_decides():
    fast, slow = [0.0010, 0.0010, 0.0011, 0.0010], [0.0030, 0.0031, 0.0030, 0.0031]
    t = pd.DataFrame(
        [
            _row("pinned", "thread-lock", "thread", fast),
            _row("pinned", "process-pipe", "process", slow),
            _row("unpinned", "thread-lock", "thread", slow),
            _row("unpinned", "process-pipe", "process", fast),
        ]
    )
    (v,) = context_switch_verdicts(t, "m")
    # unpinned, the scheduler's placement of the partners sets the ratio for a whole run
    assert v.verdict == "conditional"
    assert "holds for ['pinned'], not for none; undecided for ['unpinned']" in v.conditions
    assert v.headline.startswith("Depends on pinning: yes for pinned (threads quicker, ")
    assert v.headline.endswith("not decided for unpinned.")
    (case,) = [c for c in v.cases if c["group"] == "unpinned"]
    assert case["decision"] == "undecided" and "decided pinned only" in case["reason"]


def test_overlapping_costs_are_inconclusive():
    a, b = [0.001, 0.002, 0.003, 0.0015], [0.0012, 0.0025, 0.0011, 0.002]
    t = pd.DataFrame(
        [_row("pinned", "thread-pipe", "thread", a), _row("pinned", "process-pipe", "process", b)]
    )
    (v,) = context_switch_verdicts(t, "m")
    assert v.verdict == "inconclusive"
    assert "undecided for ['pinned']" in v.conditions
    assert v.headline.startswith("Not decided")


def test_an_impossible_interval_is_refused():
    row = _row("pinned", "process-pipe", "process", [0.0030, 0.0031, 0.0030, 0.0031])
    row["us_ci_hi"] = row["us_per_switch"] / 2
    fast = _row("pinned", "thread-lock", "thread", [0.0010, 0.0010, 0.0011, 0.0010])
    with pytest.raises(ValueError, match="us_ci_hi below us_per_switch"):
        context_switch_verdicts(pd.DataFrame([fast, row]), "m")


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"cpu": 4096}, r"experiments\.context_switch\.cpu"),
        (
            {"mechanisms": ["thread-lock", "carrier-pigeon"]},
            r"experiments\.context_switch\.mechanisms",
        ),
        ({"pin_modes": ["sideways"]}, r"experiments\.context_switch\.pin_modes"),
    ],
)
def test_bad_settings_name_the_key(bad, needle):
    with pytest.raises(cfg.ConfigError, match=needle):
        exp.points(_config(**bad), Node.here(2))
