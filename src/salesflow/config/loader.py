"""``load_settings``: the one way settings are built, with secrets registered for redaction."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource

from salesflow.config.file import ENV_PREFIX, config_file_in_use, free_form_maps, read_config_file, secret_keys
from salesflow.config.settings import Settings
from salesflow.errors import ConfigError
from salesflow.redact import REDACTOR, is_secret_key, redact


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the one Settings object; turn validation errors into a one-line ConfigError."""
    file_values = read_config_file(config_file_in_use(config_file), Settings)
    try:
        settings = _validated(file_values, overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    _register_secrets(settings)
    return settings


def validate_file(path: Path) -> Settings:
    """The settings ``path`` alone gives (no environment, no flags): a one-line ConfigError when
    it is not a valid config file."""
    values = read_config_file(path, Settings)
    try:
        return _validated(values, {}, environment=False)
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + _describe(exc)) from None


def file_schema() -> dict[str, Any]:
    """JSON Schema of the config file, for editors: every section and key with its description,
    without the secrets (they are refused in a file and come from the environment only)."""
    schema = Settings.model_json_schema()
    for key in secret_keys(Settings):
        section, name = key.split(".")  # secrets sit one level down, in a section
        entry = schema["properties"][section]
        entry.get("default", {}).pop(name, None)
        schema["$defs"][entry["$ref"].rsplit("/", 1)[1]]["properties"].pop(name, None)
    schema["title"] = "salesflow configuration file (salesflow.yaml)"
    return _with_short_forms(schema)


def _with_short_forms(node: Any) -> Any:
    """A mapped field may be written as just a column name (``FieldSpec._short_form``)."""
    if isinstance(node, dict):
        if node.get("$ref") == "#/$defs/FieldSpec":
            return {"anyOf": [node, {"type": "string", "description": "Short form: the partner column's name."}]}
        return {key: _with_short_forms(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_short_forms(value) for value in node]
    return node


def _validated(file_values: dict[str, Any], overrides: dict[str, Any], environment: bool = True) -> Settings:
    """Settings from ``overrides``, the environment, then ``file_values``: the file is handed in,
    not looked up through a module global."""

    class FromFile(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                       env_settings: PydanticBaseSettingsSource,
                                       dotenv_settings: PydanticBaseSettingsSource,
                                       file_secret_settings: PydanticBaseSettingsSource,
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            file = InitSettingsSource(settings_cls, file_values)
            return (init_settings, env_settings, file) if environment else (init_settings, file)

    loaded = FromFile(**overrides)
    # Back to the plain class (already validated): a class made here cannot be pickled to a child.
    return Settings.model_construct(loaded.model_fields_set, **{name: getattr(loaded, name)
                                                                for name in Settings.model_fields})


def _register_secrets(settings: Settings) -> None:
    """Every secret this process may hold, for the redaction layer (``salesflow.redact``)."""
    secrets: list[str | None] = []
    for section in Settings.model_fields:
        value = getattr(settings, section)
        if isinstance(value, BaseModel):
            secrets += [v.get_secret_value() for v in vars(value).values() if isinstance(v, SecretStr)]
    for api in settings.apis.values():
        secrets.append(os.environ.get(api.token_env) if api.token_env else None)
    maps = [mapping for _, mapping in free_form_maps(settings.model_dump())]
    secrets += [value for mapping in maps for key, value in mapping.items() if is_secret_key(key)]
    REDACTOR.add(*secrets)
    REDACTOR.add_environment()


def _describe(exc: ValidationError) -> str:
    """Key, rule and where to set it; never the value given (it may be a secret in the wrong place)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    key = ".".join(str(part) for part in first["loc"]) or "config"
    env = ENV_PREFIX + key.replace(".", "__").upper()
    return redact(f"config error: {key}: {first['msg']} (set {key} in the config file or ${env})")
