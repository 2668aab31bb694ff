"""Verdict rules and plots are registered by experiment name, apart from the experiments."""

from __future__ import annotations

import pytest

from coresweep.analysis.verdicts import registry as verdicts
from coresweep.experiments import EXPERIMENTS, NAMES
from coresweep.report.plots import registry as plots


def test_every_experiment_has_a_verdict_rule_and_plots():
    assert verdicts.NAMES == NAMES == plots.NAMES
    for name in NAMES:
        assert callable(verdicts.verdict_rule(name))
        assert callable(plots.plot_rule(name))
        assert EXPERIMENTS[name].name == name


def test_experiment_records_hold_only_their_own_parts():
    fields = set(EXPERIMENTS["scaling"].__dataclass_fields__)
    assert fields == {"name", "claims", "points", "measure", "aggregate", "description"}


def test_unknown_experiment_is_a_key_error():
    with pytest.raises(KeyError):
        verdicts.verdict_rule("nope")
    with pytest.raises(KeyError):
        plots.plot_rule("nope")
