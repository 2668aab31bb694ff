"""The one config loader: YAML, JSON Schema with defaults filled, clear errors naming the key."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from coresweep.records import stable_hash


class ConfigError(ValueError):
    """A config that cannot run: the message names the key and the allowed values."""


def schema() -> dict[str, Any]:
    """The config JSON Schema shipped with the package (workflow/schemas links to it)."""
    text = resources.files("coresweep").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


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


def validate(config: dict[str, Any] | None) -> dict[str, Any]:
    """A validated copy of config with every default filled; ConfigError on the first problem."""
    cfg = copy.deepcopy(config) if config else {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"config must be a mapping of keys, got {type(cfg).__name__}")
    errors = sorted(_Validator(schema()).iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("; ".join(_explain(e) for e in errors[:5]))
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
