"""The YAML config file: where it is, reading it, and refusing secrets in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from salesflow.errors import ConfigError
from salesflow.redact import is_secret_key

ENV_PREFIX = "SALESFLOW__"
CONFIG_ENV = "SALESFLOW_CONFIG"
DEFAULT_CONFIG_FILE = "salesflow.yaml"
FREE_FORM_MAPS = ("kafka.extra", "lake.options", "spark.conf")
"""Maps passed through to a client as they are; ``apis.<name>.headers`` and ``.params`` too."""


def config_file_in_use(explicit: Path | None = None) -> Path | None:
    """The YAML file settings are read from: ``--config``, ``$SALESFLOW_CONFIG``, ``./salesflow.yaml``."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def read_config_file(path: Path | None, model: type[BaseModel]) -> dict[str, Any]:
    """The file's sections, refused whole if it holds any of ``model``'s secrets."""
    if path is None:
        return {}
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    _reject_secrets_in_file(values, path, model)
    return values


def secret_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= secret_keys(annotation, f"{prefix}{name}.")
        elif "SecretStr" in repr(annotation):
            keys.add(f"{prefix}{name}")
    return keys


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, never the offending text (it may hold a value that must not print)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def _reject_secrets_in_file(values: dict[str, Any], path: Path, model: type[BaseModel]) -> None:
    for key in sorted(secret_keys(model)):
        section, _, name = key.rpartition(".")
        holder = values.get(section, {}) if section else values
        if isinstance(holder, dict) and holder.get(name) is not None:
            env = ENV_PREFIX + key.replace(".", "__").upper()
            raise ConfigError(f"{key} is a secret: set it in ${env}, not in {path}")
    for where, mapping in free_form_maps(values):
        for name in mapping if isinstance(mapping, dict) else ():
            if is_secret_key(str(name)):
                env = ENV_PREFIX + where.replace(".", "__").upper()
                raise ConfigError(f"{where}[{str(name)!r}] looks like a secret: it may not be in {path}; give "
                                  f"{where} in ${env} as a JSON object (secrets come from the environment only)")


def free_form_maps(values: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for dotted in FREE_FORM_MAPS:
        section, _, name = dotted.partition(".")
        holder = values.get(section)
        if isinstance(holder, dict) and name in holder:
            found.append((dotted, holder[name]))
    apis = values.get("apis")
    for api, spec in (apis.items() if isinstance(apis, dict) else ()):
        for name in ("headers", "params"):
            if isinstance(spec, dict) and name in spec:
                found.append((f"apis.{api}.{name}", spec[name]))
    return found
