"""``load_settings``: the one way settings are built, with secrets registered for redaction."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource

from salesflow.config.file import ENV_PREFIX, config_file_in_use, free_form_maps, read_config_file
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


def _validated(file_values: dict[str, Any], overrides: dict[str, Any]) -> Settings:
    """Settings from ``overrides``, the environment, then ``file_values``: the file is handed in,
    not looked up through a module global."""

    class FromFile(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                       env_settings: PydanticBaseSettingsSource,
                                       dotenv_settings: PydanticBaseSettingsSource,
                                       file_secret_settings: PydanticBaseSettingsSource,
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, InitSettingsSource(settings_cls, file_values)

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
