"""The config model is the one source: the schema file and README tables are generated from it,
and the defaults the code uses are the model's."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import yaml

from coresweep import config as cs_config
from coresweep import config_model as model
from coresweep.analysis.verdicts.engine import schema_default
from coresweep.measure.sampling import Protocol

ROOT = Path(__file__).resolve().parents[1]
STALE = f"is stale: run `{model.REGENERATE}` and commit the result"


def test_checked_in_schema_is_what_the_model_generates():
    assert model.SCHEMA_PATH.read_text() == model.schema_text(), f"{model.SCHEMA_PATH} {STALE}"


def test_checked_in_readme_tables_are_what_the_model_generates():
    from coresweep.claims import EXPERIMENT_MODULES

    text = model.README_PATH.read_text()
    tables = {line.split("`")[1] for line in text.splitlines() if model._BEGIN.match(line)}
    # every experiment's section has its generated table (a new one needs its block)
    assert {f"experiments.{name}" for name in EXPERIMENT_MODULES} <= tables
    assert {"(top level)", "protocol", "user_kernels.*"} <= tables, tables
    assert text == model.readme_text(text), f"{model.README_PATH} {STALE}"


def test_workflow_validates_against_the_generated_file():
    linked = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert linked.resolve() == model.SCHEMA_PATH.resolve()
    assert yaml.safe_load(linked.read_text()) == model.schema() == cs_config.schema()


def test_write_rewrites_a_stale_copy_and_only_that(tmp_path):
    schema, readme = tmp_path / "schema.yaml", tmp_path / "README.md"
    schema.write_text("stale\n")
    readme.write_text(model.README_PATH.read_text())
    assert model.write(schema, readme) == [schema]
    assert schema.read_text() == model.schema_text()
    assert model.write(schema, readme) == []


def test_model_defaults_are_the_validated_empty_config():
    assert model.defaults() == cs_config.validate({})


def test_some_defaults_exactly():
    c = cs_config.validate({})
    assert model.ProtocolSection().max_repeats == c["protocol"]["max_repeats"] == 6
    assert model.ProtocolSection().min_sample_seconds == c["protocol"]["min_sample_seconds"] == 0.04
    assert model.Scaling().sizes == c["experiments"]["scaling"]["sizes"]
    assert c["experiments"]["scaling"]["sizes"]["triad"] == "auto"
    assert model.Hybrid().protocol.min_sample_seconds == 0.1
    assert c["experiments"]["hybrid"]["protocol"]["min_sample_seconds"] == 0.1
    assert model.Responsiveness().task_sizes.mc_python == 20000
    assert c["experiments"]["responsiveness"]["task_sizes"]["mc-python"] == 20000
    assert c["dask_cluster"]["tls"] is None and c["user_kernels"] == {}


def test_sampling_protocol_defaults_are_the_models():
    section = dataclasses.asdict(model.ProtocolSection())
    proto = dataclasses.asdict(Protocol())
    assert proto == {k: section[k] for k in proto}
    assert Protocol().max_repeats == 6 and Protocol().min_sample_seconds == 0.04


def test_verdict_defaults_read_the_model():
    assert schema_default("protocol", "difference_threshold") == 0.05
    assert schema_default("experiments", "faults", "isolation_rate") == 0.3


def test_every_key_has_a_one_line_doc():
    def walk(cls: type, prefix: str) -> list[str]:
        out = []
        for name, _, tp, k in model.keys_of(cls):
            if not k.doc or "\n" in k.doc:
                out.append(prefix + name)
            inner = [t for t in (tp, *typing.get_args(tp)) if dataclasses.is_dataclass(t)]
            if inner:
                out += walk(inner[0], f"{prefix}{name}.")
        return out

    assert walk(model.Config, "") == []
    assert len(model.DaskClusterTls.__dataclass_fields__) == 3  # the walk reaches X | None


def test_a_range_is_checked_where_the_model_states_it():
    sch = model.schema()["properties"]["experiments"]["properties"]["faults"]["properties"]
    assert sch["isolation_rate"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 0.9,
        "default": 0.3,
        "description": model.Faults.__dataclass_fields__["isolation_rate"].metadata["key"].doc,
    }
    assert sch["isolation_rate"]["description"].startswith("C6's bar")


def _leaves(cls: type, out: dict[str, list]) -> dict[str, list]:
    """Every leaf key of a section (nested sections walked, as the one-line-doc walk does)
    -> its defaults."""
    for name, f, tp, _ in model.keys_of(cls):
        if dataclasses.is_dataclass(tp):
            _leaves(tp, out)
        else:
            out.setdefault(name, []).append(model._default(f))
    return out


def _named_values(node: object) -> list[tuple[str, object]]:
    """(name, default expression) pairs a node states: x.get("name", default), a parameter's
    default, an annotated field's value."""
    import ast

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        args = node.args
        keyed = len(args) == 2 and isinstance(args[0], ast.Constant)
        if node.func.attr in ("get", "setdefault") and keyed and isinstance(args[0].value, str):
            return [(args[0].value, args[1])]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        a = node.args
        pos = a.posonlyargs + a.args
        named = pos[len(pos) - len(a.defaults) :]
        pairs = [(x.arg, d) for x, d in zip(named, a.defaults, strict=True)]
        pairs += [(x.arg, d) for x, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d]
        return pairs
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return [(node.target.id, node.value)]
    return []


def test_no_code_literal_restates_a_config_default():
    """One place per default: `x.get("key", default)`, a parameter or a field named like a
    config key must not restate its value (it reads the model, or the validated config,
    which holds every default). Empty collections and None state nothing."""
    import ast
    from pathlib import Path

    leaves = _leaves(model.Config, {})
    src = Path(model.__file__).parent
    found = []
    for path in sorted(src.rglob("*.py")):
        if path.name == "config_model.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            for name, expr in _named_values(node):
                try:
                    value = ast.literal_eval(expr)
                except ValueError:
                    continue
                if value in (None, {}, [], ()) or name not in leaves:
                    continue
                if any(value == d and type(value) is type(d) for d in leaves[name]):
                    found.append(f"{path.relative_to(src)}:{node.lineno} {name}={value!r}")
    assert not found, f"defaults restated outside coresweep.config_model: {found}"
