"""Expectation suites: the package's defaults per layer, overridden or extended by the user's YAML.

Files map table -> list of expectations (``models/<layer>/expectations.yml``). A user file
(``quality.expectations_file``) maps layer -> table -> list; a rule with the same name replaces
the default one (to change its action, say), a new name adds a rule.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from salesflow.errors import ConfigError
from salesflow.quality.expectations import Expectation

Suite = dict[str, list[Any]]
_ADAPTER: TypeAdapter[list[Any]] = TypeAdapter(list[Expectation])
LAYERS = ("silver", "gold", "warehouse")
QUARANTINE_LAYERS = ("silver",)


def load_suite(layer: str, user_file: str | None = None) -> Suite:
    packaged = resources.files("salesflow.models").joinpath(layer, "expectations.yml")
    text = packaged.read_text() if packaged.is_file() else ""
    suite = _parse(yaml.safe_load(text) or {}, f"salesflow/models/{layer}/expectations.yml", layer)
    if user_file:
        user = _read_user(Path(user_file)).get(layer, {})
        for table, rules in _parse(user, user_file, layer).items():
            suite[table] = _merge(suite.get(table, []), rules)
    return suite


def _read_user(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"quality.expectations_file {path} does not exist")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict) or set(loaded) - set(LAYERS):
        raise ConfigError(f"{path}: top-level keys must be layers: {', '.join(LAYERS)}")
    return loaded


def _parse(raw: dict[str, Any], where: str, layer: str) -> Suite:
    suite: Suite = {}
    for table, rules in raw.items():
        try:
            parsed = _ADAPTER.validate_python(rules or [])
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{where}: {table}[{loc}]: {first['msg']}") from None
        for rule in parsed:
            if rule.action == "quarantine" and layer not in QUARANTINE_LAYERS:
                raise ConfigError(f"{where}: {table}.{rule.name}: action quarantine is only for "
                                  f"{', '.join(QUARANTINE_LAYERS)} tables (use warn or fail)")
        suite[table] = parsed
    return suite


def _merge(defaults: list[Any], overrides: list[Any]) -> list[Any]:
    by_name = {rule.name: rule for rule in defaults}
    by_name.update({rule.name: rule for rule in overrides})
    return list(by_name.values())
