"""A seeded fuzz of the default config through `coresweep plan`: every mutation is accepted,
or refused with exit 2 and a message naming a key path of the config; none is a traceback."""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from coresweep import cli
from coresweep import config as cfg

ROOT = Path(__file__).resolve().parents[1]
MUTATIONS = 200
SEED = 20261206
#: values of every kind a typo or a wrong edit puts in a YAML file
ODD_VALUES = (-1, 0, 10**9, 0.5, -0.25, "", "abc", "auto", None, True, [], [0], {}, {"x": 1}, "1e3")
#: a key path as messages write it: experiments.scaling.sizes.mc-python, kernels[2]
KEY_PATH = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*")
UNKNOWN = re.compile(r"unknown config key\(s\) \[(.*?)\] in (top level|\S+?);")


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path (dict keys and list indices) under node."""
    out = []
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return out
    for k, v in items:
        out.append((*prefix, k))
        out += _paths(v, (*prefix, k))
    return out


def _parent(conf: dict, path: tuple) -> Any:
    node = conf
    for k in path[:-1]:
        node = node[k]
    return node


def mutate(conf: dict, rng: random.Random) -> tuple[dict, str]:
    """One mutation of conf: a value replaced, a key removed or misspelt, an unknown key."""
    conf = copy.deepcopy(conf)
    path = rng.choice(_paths(conf))
    parent, last = _parent(conf, path), path[-1]
    what = rng.choice(("value", "value", "value", "remove", "misspell", "unknown"))
    if what == "remove":
        del parent[last]
    elif what == "misspell" and isinstance(last, str):
        parent[last + "x"] = parent.pop(last)
    elif what == "unknown" and isinstance(parent, dict):
        parent["no_such_key"] = 1
    else:
        parent[last] = rng.choice(ODD_VALUES)
        what = "value"
    return conf, f"{what} at {'.'.join(map(str, path))}"


def is_key_path(text: str, sch: dict[str, Any] | None = None) -> bool:
    """Whether text is a key path of the config schema (map entries and list items included)."""
    node = sch or cfg.schema()
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        alts = [node, *node.get("oneOf", ())]
        if part.startswith("["):
            found = [a["items"] for a in alts if isinstance(a.get("items"), dict)]
        else:
            found = [a["properties"][part] for a in alts if part in a.get("properties", {})]
            found += [a["additionalProperties"] for a in alts if a.get("additionalProperties")]
        if not found:
            return False
        node = found[0] if isinstance(found[0], dict) else {}
    return True


def names_a_key(msg: str) -> bool:
    """The message names a key path of the schema: the bad key, or where an unknown key sits."""
    if m := UNKNOWN.search(msg):
        return m.group(2) == "top level" or is_key_path(m.group(2))
    sch = cfg.schema()
    return any(
        is_key_path(p, sch) and ("." in p or "[" in p or f"config key {p}" in msg)
        for p in KEY_PATH.findall(msg)
    )


def test_key_path_check_tells_paths_from_words():
    assert names_a_key("config key experiments.scaling.sizes.mc-python: 'x' is not an integer")
    assert names_a_key("config key seed: 'x' is not of type 'integer'")
    assert names_a_key("unknown config key(s) ['sedex'] in top level; allowed: [...]")
    assert names_a_key("unknown config key(s) ['x'] in experiments.load; allowed: [...]")
    assert not names_a_key("something went wrong in the planner: seed")
    assert not names_a_key("config key experiments.scaling.nosuch: bad")
    assert not names_a_key("'max_repeats'")  # a bare KeyError, as cli.main would print it


def test_every_mutation_of_the_default_config_is_accepted_or_refused_naming_a_key(tmp_path, capsys):
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    rng = random.Random(SEED)
    outcomes = {0: 0, 2: 0}
    for i in range(MUTATIONS):
        conf, what = mutate(base, rng)
        path = tmp_path / f"m{i}.yaml"
        path.write_text(yaml.safe_dump(conf))
        try:
            code = cli.main(["plan", "--config", str(path), "--cores", "2"])
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"mutation {i} ({what}) gave a traceback: {type(exc).__name__}: {exc}")
        err = capsys.readouterr().err
        assert code in outcomes, f"mutation {i} ({what}): exit {code}: {err}"
        outcomes[code] += 1
        if code == 2:
            assert names_a_key(err), f"mutation {i} ({what}) names no key: {err}"
    assert sum(outcomes.values()) == MUTATIONS >= 200
    assert outcomes[2] >= MUTATIONS // 4  # the fuzz reaches the validation, not only harmless keys
    assert outcomes[0] >= MUTATIONS // 10  # ... and harmless edits still plan
