"""config/README.md and config/config.yaml agree with the schema, the one source of defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from coresweep import config as cs_config

ROOT = Path(__file__).resolve().parents[1]
SECTION = re.compile(r"^## `([\w.]+)`")
ROW = re.compile(r"^\| `([\w.]+)` \| ([^|]+) \|")
REQUIRED = "(required)"


def _schema_defaults(sch: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every key of the schema that has a default, as a dotted path."""
    out = {}
    for key, sub in sch.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        if "properties" in sub:
            out |= _schema_defaults(sub, path)
        elif "default" in sub:
            out[path] = sub["default"]
    return out


def _documented() -> dict[str, str]:
    """Dotted key -> the default column of config/README.md's tables."""
    prefix, out = "", {}
    for line in (ROOT / "config" / "README.md").read_text().splitlines():
        if m := SECTION.match(line):
            prefix = "" if m.group(1) == "user_kernels" else m.group(1)
            if m.group(1) == "user_kernels":
                prefix = "user_kernels.*"
        elif line.startswith("## "):
            prefix = ""
        elif (m := ROW.match(line)) and not prefix.startswith("user_kernels"):
            key = f"{prefix}.{m.group(1)}" if prefix else m.group(1)
            out[key] = m.group(2).strip()
    return out


def _value(text: str) -> Any:
    return yaml.safe_load(text.replace("`", ""))


def test_readme_defaults_are_the_schema_defaults():
    defaults = _schema_defaults(cs_config.schema())
    documented = _documented()
    assert len(documented) > 40  # the parser reads the tables
    wrong = {
        k: (doc, defaults[k])
        for k, doc in documented.items()
        if k in defaults and doc != REQUIRED and _value(doc) != defaults[k]
    }
    assert not wrong, f"README default != schema default: {wrong}"
    unknown = sorted(k for k in documented if k not in defaults)
    assert not unknown, f"README documents keys the schema does not have: {unknown}"


def test_every_schema_key_is_documented():
    defaults = _schema_defaults(cs_config.schema())
    missing = sorted(
        k for k in defaults if k not in _documented() and not k.startswith("dask_cluster")
    )
    assert not missing, f"config/README.md does not document: {missing}"


def test_config_yaml_states_only_schema_defaults():
    """The default run is the schema's defaults: config.yaml restates, never changes them."""
    from_file = cs_config.load(ROOT / "config" / "config.yaml")
    assert from_file == cs_config.validate({})
