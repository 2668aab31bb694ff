"""One list of experiments (claims.EXPERIMENT_MODULES); each layer finds its part from it."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from coresweep import claims
from coresweep.analysis.verdicts import registry as verdicts
from coresweep.experiments import EXPERIMENTS, NAMES, get_experiment
from coresweep.report.plots import registry as plots

CAPTIONS = Path(__file__).parents[1] / "workflow" / "report"


def test_the_experiment_names_are_one_list_that_every_layer_reads():
    assert tuple(claims.EXPERIMENT_MODULES) == NAMES
    assert tuple(EXPERIMENTS) == NAMES
    assert not hasattr(verdicts, "NAMES") and not hasattr(plots, "NAMES")
    # every claim is decided by a registered experiment, every experiment decides a claim
    assert {c.experiment for c in claims.CLAIMS.values()} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_experiment_has_its_module_a_verdict_rule_and_a_plot_rule(name):
    assert EXPERIMENTS[name].name == name
    assert verdicts.verdict_rule(name).__name__ == f"{name}_verdicts"
    assert plots.plot_rule(name).__name__ == f"{name}_plots"
    assert plots.module_name(name) == f"coresweep.report.plots.{name}"


def _module(monkeypatch, name: str, **attrs) -> str:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_adding_an_experiment_is_one_registry_entry(monkeypatch):
    """A fake module triple under one new entry: the experiment, its verdicts and its plots
    are all found from it, with no other list to extend."""
    experiment = types.SimpleNamespace(name="fake")
    fake = claims.Modules(
        _module(monkeypatch, "fake_experiment", EXPERIMENT=experiment),
        _module(
            monkeypatch, "fake_verdicts_mod", fake_verdicts=lambda table, machine, threshold: ["v"]
        ),
        _module(monkeypatch, "fake_plots_mod", fake_plots=lambda table, outdir, machine: []),
    )
    monkeypatch.setitem(claims.EXPERIMENT_MODULES, "fake", fake)
    assert EXPERIMENTS["fake"] is experiment
    assert get_experiment("fake") is experiment
    assert list(EXPERIMENTS)[-1] == "fake" and len(EXPERIMENTS) == len(NAMES) + 1
    assert verdicts.verdicts("fake", None, "m") == ["v"]
    assert plots.module_name("fake") == "fake_plots_mod"
    assert plots.plots("fake", None, None, "m") == []


def test_modules_follow_the_layer_convention():
    assert claims.Modules.of("load") == claims.Modules(
        "coresweep.experiments.load",
        "coresweep.analysis.verdicts.load",
        "coresweep.report.plots.load",
    )


def test_experiment_records_hold_only_their_own_parts():
    fields = set(EXPERIMENTS["scaling"].__dataclass_fields__)
    assert fields == {"name", "claims", "points", "measure", "aggregate", "description"}


def test_unknown_experiment_is_a_key_error():
    with pytest.raises(KeyError):
        verdicts.verdict_rule("nope")
    with pytest.raises(KeyError):
        plots.plot_rule("nope")
    with pytest.raises(KeyError):
        EXPERIMENTS["nope"]


def test_captions_take_claim_ids_from_the_claims_registry():
    """No caption names a claim id: the claims caption takes the first and last from the
    params the report rule hands in (params.claims, from CLAIMS); tests/test_snakemake_report.py
    sees it rendered."""
    captions = sorted(CAPTIONS.glob("*.rst"))
    assert captions
    for path in captions:
        text = re.sub(r"\{.*?\}", "", path.read_text())  # outside the template expressions
        assert not re.search(r"\bC0?\d+\b", text), path
    assert "snakemake.params.claims" in (CAPTIONS / "claims.rst").read_text()
