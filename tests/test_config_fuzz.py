"""A seeded fuzz of the default config through the planner: every mutation is accepted or
refused with a message naming a key; none ends in a traceback."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from coresweep import config as cfg
from coresweep.experiments import plan
from coresweep.measure.cores import Node

ROOT = Path(__file__).resolve().parents[1]
MUTATIONS = 200
SEED = 20261206
#: values of every kind a typo or a wrong edit puts in a YAML file
ODD_VALUES = (-1, 0, 10**9, 0.5, -0.25, "", "abc", "auto", None, True, [], [0], {}, {"x": 1}, "1e3")


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


def test_every_mutation_of_the_default_config_is_accepted_or_refused_naming_a_key(tmp_path):
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    rng = random.Random(SEED)
    node = Node.here(2)
    refused = accepted = 0
    for i in range(MUTATIONS):
        conf, what = mutate(base, rng)
        path = tmp_path / f"m{i}.yaml"
        path.write_text(yaml.safe_dump(conf))
        try:
            plan(cfg.load(path), node)
        except ValueError as exc:  # ConfigError and the planner's refusals
            msg = str(exc)
            assert "config key" in msg or "unknown config key" in msg or "experiments." in msg \
                or "protocol." in msg or "cores." in msg, f"mutation {i} ({what}): {msg}"  # fmt: skip
            refused += 1
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"mutation {i} ({what}) gave a traceback: {type(exc).__name__}: {exc}")
        else:
            accepted += 1
    assert refused + accepted == MUTATIONS
    assert refused >= MUTATIONS // 4  # the fuzz reaches the validation, not only harmless keys
