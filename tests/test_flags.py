"""Flags are one enum (coresweep.flags): each produced and read through it, each with its
measured value as a field, and none that nothing produces."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from coresweep import flags
from coresweep.flags import Flag, Raised

SRC = Path(__file__).resolve().parents[1] / "src" / "coresweep"
#: the layers that measure, and so may raise a flag
PRODUCERS = ("stats.py", "experiments", "measure")


@pytest.mark.parametrize(
    ("raised", "text"),
    [
        (Raised(Flag.CV, 0.1), "cv>10%"),
        (Raised(Flag.SPARSE_SAMPLING, 10.0), "sampling<10Hz"),
        (Raised(Flag.P99_FEW_REQUESTS, 100.0), "p99-from-<100-requests"),
        (Raised(Flag.P99_FEW_SAMPLES, 500.0), "p99-from<500-samples"),
        (Raised(Flag.LOW_CAPACITY), "low-capacity"),
        (Raised(Flag.SPREAD), "min/max>50%-from-mean"),
    ],
)
def test_a_flag_writes_its_value_into_its_text_and_parse_gives_it_back(raised, text):
    assert raised.text == text
    assert flags.parse(text) == [raised]


def test_every_flag_round_trips_through_its_table_text():
    for flag in Flag:
        value = 7 if flag.valued else None
        (back,) = flags.parse(flag.at(value))
        assert back.flag is flag
        assert back.value == value


def test_a_cell_holds_its_flags_in_order_once_and_has_finds_one():
    cell = flags.join([Flag.LOW_CAPACITY.at(), Flag.CV.at(0.1), Flag.LOW_CAPACITY.at(), ""])
    assert cell == "low-capacity;cv>10%"
    assert flags.has(cell, Flag.CV) and not flags.has(cell, Flag.REFERENCE_DRIFT)
    assert flags.parse(float("nan")) == [] and flags.parse("") == []


def test_a_value_is_given_exactly_where_a_flag_carries_one():
    with pytest.raises(ValueError, match="flag CV takes a value"):
        Flag.CV.at()
    with pytest.raises(ValueError, match="flag LOW_CAPACITY takes no value"):
        Flag.LOW_CAPACITY.at(1.0)


def test_a_text_that_is_no_flag_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown flag 'high-load-at-start' in a table row"):
        flags.parse("low-capacity;high-load-at-start")


#: `coresweep advise` has a row status of its own ("check-failed"), not a table flag
OWN_WORDS = ("advise.py", "analysis/advice.py", "report/advice.py")


def _modules() -> list[Path]:
    return [
        p
        for p in SRC.rglob("*.py")
        if p.name != "flags.py" and not p.relative_to(SRC).as_posix().endswith(OWN_WORDS)
    ]


def _flag_members_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "Flag"
    }


def test_every_flag_is_raised_by_a_module_that_measures():
    produced: set[str] = set()
    for path in _modules():
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(PRODUCERS):
            produced |= _flag_members_used(path)
    assert sorted(f.name for f in Flag if f.name not in produced) == []


def _data_keys(tree: ast.AST) -> set[int]:
    """ids of string constants that are data keys: a dict's keys, a subscript, `.get(key)`
    (a record field named like a flag, e.g. a fault cell's "orphans" count, is no flag)."""
    out: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Dict):
            out |= {id(k) for k in n.keys if k is not None}
        elif isinstance(n, ast.Subscript):
            out.add(id(n.slice))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.args:
            out |= {id(n.args[0])} if n.func.attr == "get" else set()
    return out


def _literal_texts(path: Path) -> list[tuple[int, str]]:
    """String constants (f-string parts included) that are a flag's text or its fixed head."""
    plain = {f.pattern for f in Flag if not f.valued}
    heads = {f.pattern.partition("{")[0] for f in Flag if f.valued}
    tree = ast.parse(path.read_text())
    keys = _data_keys(tree)
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and (n.value in plain or n.value in heads)
        and id(n) not in keys
    ]


def test_no_module_writes_or_matches_a_flag_by_its_text():
    found = {
        f"{p.relative_to(SRC)}:{line}": text for p in _modules() for line, text in _literal_texts(p)
    }
    assert found == {}


def test_the_checker_finds_a_flag_written_as_text(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        'flags = ["low-capacity"]\nlate = f"cv>{x:.0%}"\n'
        'n = cell["orphans"] + row.get("oversubscribed") + len({"orphans": 1})\n'
    )
    assert sorted(t for _, t in _literal_texts(bad)) == ["cv>", "low-capacity"]
