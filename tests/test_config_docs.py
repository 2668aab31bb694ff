"""config/README.md and config/config.yaml agree with the schema generated from the config model,
the one source of defaults (tests/test_config_model.py checks that the files are not stale)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from coresweep import config as cs_config
from coresweep import config_model

ROOT = Path(__file__).resolve().parents[1]
SECTION = re.compile(r"^## `([\w.]+)`")
ROW = re.compile(r"^\| `([\w.]+)` \| ([^|]+) \|")
REQUIRED = "(required)"
SECTION_ONLY = "(a section of its own)"


def _schema_defaults(sch: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every key of the schema that has a default, as a dotted path (leaves of nested objects)."""
    out = {}
    for key, sub in sch.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        if "properties" in sub:
            out |= _schema_defaults(sub, path)
        elif "default" in sub:
            out[path] = sub["default"]
    return out


def _schema_keys(sch: dict[str, Any], prefix: str = "") -> set[str]:
    """Every key of the schema, objects included, as dotted paths."""
    out = set()
    for key, sub in sch.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out |= {path} | _schema_keys(sub, path)
    return out


def _covered(key: str, documented: dict[str, str]) -> bool:
    """A key is documented by its own row or by the row of an object that holds it."""
    parts = key.split(".")
    return any(".".join(parts[:n]) in documented for n in range(1, len(parts) + 1))


def _documented() -> dict[str, str]:
    """Dotted key -> the default column of config/README.md's tables."""
    prefix, out = "", {}
    for line in (ROOT / "config" / "README.md").read_text().splitlines():
        if m := SECTION.match(line):
            prefix = m.group(1)
            if prefix == "user_kernels":  # one section documents the whole mapping
                out[prefix], prefix = SECTION_ONLY, "user_kernels.*"
        elif line.startswith("## "):
            prefix = ""
        elif (m := ROW.match(line)) and not prefix.startswith("user_kernels"):
            key = f"{prefix}.{m.group(1)}" if prefix else m.group(1)
            out[key] = m.group(2).strip()
    return out


def _default(key: str, defaults: dict[str, Any]) -> Any:
    """A leaf's default, or an object's defaults as the mapping of its leaves (None: none)."""
    if key in defaults:
        return defaults[key]
    inner = {k[len(key) + 1 :]: v for k, v in defaults.items() if k.startswith(key + ".")}
    return inner if inner and all("." not in k for k in inner) else None


def _value(text: str) -> Any:
    return yaml.safe_load(text.replace("`", ""))


def test_readme_defaults_are_the_schema_defaults():
    defaults = _schema_defaults(cs_config.schema())
    documented = _documented()
    assert len(documented) > 40  # the parser reads the tables
    wrong = {
        k: (doc, _default(k, defaults))
        for k, doc in documented.items()
        if doc not in (REQUIRED, SECTION_ONLY)
        and _default(k, defaults) is not None
        and _value(doc) != _default(k, defaults)
    }
    assert not wrong, f"README default != schema default: {wrong}"
    keys = _schema_keys(cs_config.schema())
    unknown = sorted(k for k in documented if k not in keys)
    assert not unknown, f"README documents keys the schema does not have: {unknown}"


def test_every_schema_key_is_documented():
    defaults, documented = _schema_defaults(cs_config.schema()), _documented()
    missing = sorted(k for k in defaults if not _covered(k, documented))
    assert not missing, f"config/README.md does not document: {missing}"


def test_config_yaml_states_only_the_model_defaults():
    """The default run is the model's defaults: config.yaml restates, never changes them."""
    from_file = cs_config.load(ROOT / "config" / "config.yaml")
    assert from_file == cs_config.validate({}) == config_model.defaults()
    stated = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert stated["protocol"]["max_repeats"] == config_model.ProtocolSection().max_repeats
