"""The one config loader: YAML, JSON Schema with defaults filled, clear errors naming the key.

The schema and its defaults come from `coresweep.config_model`, the one config model.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from coresweep import config_model
from coresweep.records import stable_hash


class ConfigError(ValueError):
    """A config that cannot run: the message names the key and the allowed values."""


@functools.cache
def _model_schema() -> dict[str, Any]:
    return config_model.schema()


def schema() -> dict[str, Any]:
    """The config JSON Schema, from the model (schemas/config.schema.yaml is its generated copy)."""
    return copy.deepcopy(_model_schema())


def _with_defaults(validator_class: type) -> type:
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sch):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, sch)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _key(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _explain(err: jsonschema.ValidationError) -> str:
    key = _key(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        where = "top level" if key == "(top level)" else key
        return f"unknown config key(s) {extra} in {where}; allowed: {allowed}"
    if err.validator == "oneOf":
        options = []
        for sub in err.validator_value:
            options.append(sub.get("enum") or sub.get("type"))
        return f"config key {key}: {err.instance!r} is not allowed; expected one of {options}"
    return f"config key {key}: {err.message}"


def _types(sch: dict[str, Any]) -> set[str]:
    """JSON types a schema node allows, its oneOf/anyOf alternatives included."""
    t = sch.get("type", [])
    out = {t} if isinstance(t, str) else set(t)
    for alt in (*sch.get("oneOf", ()), *sch.get("anyOf", ())):
        out |= _types(alt)
    return out


def _scalar(value: str, allowed: set[str]) -> Any:
    """A number or boolean written as a string, as the schema allows; else the string."""
    text = value.strip()
    if "integer" in allowed and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if "number" in allowed:
        try:
            return float(text)
        except ValueError:
            pass
    if "boolean" in allowed and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value


def coerce(instance: Any, sch: dict[str, Any]) -> Any:
    """Numbers and booleans that arrive as strings, where the schema wants them typed.

    `snakemake --config 'cores={max: 32}'` hands nested values over as strings ('32').
    """
    if isinstance(instance, str):
        return _scalar(instance, _types(sch))
    if isinstance(instance, dict):
        props = sch.get("properties", {})
        extra = sch.get("additionalProperties")
        return {
            k: coerce(v, props.get(k, extra if isinstance(extra, dict) else {}))
            for k, v in instance.items()
        }
    if isinstance(instance, list):
        items = [
            a["items"] for a in (sch, *sch.get("oneOf", ())) if isinstance(a.get("items"), dict)
        ]
        if items:
            return [coerce(v, items[0]) for v in instance]
    return instance


def validate(config: dict[str, Any] | None) -> dict[str, Any]:
    """A validated copy of config with every default filled; ConfigError on the first problem."""
    cfg = copy.deepcopy(config) if config else {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"config must be a mapping of keys, got {type(cfg).__name__}")
    sch = _model_schema()  # read only: no copy needed
    cfg = coerce(_versions_as_text(cfg), sch)
    errors = sorted(_Validator(sch).iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("; ".join(_explain(e) for e in errors[:5]))
    from coresweep.interpreters import parse_all

    parse_all(cfg["interpreters"])  # versions, paths (each run once), duplicates
    return cfg


def _versions_as_text(cfg: dict[str, Any]) -> dict[str, Any]:
    """`interpreters: [3.11, 3.13]` as YAML reads it (numbers) in the strings it means."""
    requests = cfg.get("interpreters")
    if isinstance(requests, list):
        cfg["interpreters"] = [
            repr(r) if isinstance(r, int | float) and not isinstance(r, bool) else r
            for r in requests
        ]
    return cfg


def load(path: str | Path | None) -> dict[str, Any]:
    """Read a YAML config file (None = all defaults) and validate it."""
    if path is None:
        return validate({})
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML in config file {path}: {exc}") from exc
    return validate(data or {})


def config_hash(config: dict[str, Any]) -> str:
    return stable_hash(config)
