"""``salesflow config show``: the effective configuration, where it came from, secrets masked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import SecretStr

from salesflow.cli.output import handle_errors
from salesflow.cli.params import run_context
from salesflow.config import CONFIG_ENV, ENV_PREFIX, Settings, config_file_in_use
from salesflow.config.file import read_config_file
from salesflow.redact import MASK, is_secret_key, redact


def effective_config(settings: Settings, explicit_file: Path | None,
                     overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Which file, which environment variables (names only), where each setting that is not a
    default came from (flag, environment, file: the first wins), and every value in force."""
    path = config_file_in_use(explicit_file)
    env = sorted(name for name in os.environ if name.startswith(ENV_PREFIX) or name == CONFIG_ENV)
    return {"config_file": str(path.resolve()) if path else None, "environment": env,
            "sources": setting_sources(path, env, overrides or {}),
            "settings": _masked(settings.model_dump(mode="json"), settings.model_dump())}


def setting_sources(path: Path | None, env: list[str], overrides: dict[str, Any]) -> dict[str, str]:
    """``section.key`` -> ``flag`` / ``environment`` / ``file`` for every key given anywhere."""
    given = {"file": _keys(read_config_file(path, Settings) if path else {}),
             "environment": {name.removeprefix(ENV_PREFIX).lower().replace("__", ".") for name in env
                             if name.startswith(ENV_PREFIX)},
             "flag": _keys(overrides)}
    found: dict[str, str] = {}
    for source in ("file", "environment", "flag"):  # later ones win, as the loader resolves them
        for key in given[source]:
            found[key] = source
    return dict(sorted(found.items()))


def _keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted keys of nested sections; a free-form map (no nested sections under it) is one key."""
    out: set[str] = set()
    for name, value in values.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value and not prefix:
            out |= _keys(value, f"{key}.")
        else:
            out.add(key)
    return out


def _masked(shown: Any, value: Any, key: str = "") -> Any:
    """``shown`` (the JSON dump) with secrets as the redaction layer shows them (a URL keeps its
    host, loses its password) and values of secret-like keys in free-form maps (given in the
    environment) masked whole. ``value`` is the same setting as Python objects, to find the secrets."""
    if isinstance(value, SecretStr):
        return redact(value.get_secret_value())
    if isinstance(shown, dict) and isinstance(value, dict):
        return {k: _masked(v, value.get(k), str(k)) for k, v in shown.items()}
    if isinstance(shown, list) and isinstance(value, list):
        return [_masked(s, v, key) for s, v in zip(shown, value, strict=True)]
    if isinstance(shown, str) and shown and is_secret_key(key):
        return MASK
    return shown


@click.group("config")
def config_group() -> None:
    """The effective configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.pass_context
@handle_errors
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Settings in force, the file and environment variables they came from; secrets masked."""
    job = run_context(ctx, check_extras=False)
    show_config(job.settings, job.config_file, as_json, job.overrides)


@config_group.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@handle_errors
def config_validate(path: Path) -> None:
    """Check a config file on its own (no environment): one line, exit 0 if valid, 2 if not."""
    from salesflow.config.loader import validate_file

    validate_file(path)
    click.echo(f"{path}: valid")


@config_group.command("schema")
@handle_errors
def config_schema() -> None:
    """Print the JSON Schema of the config file (for editors; secrets are not file keys)."""
    from salesflow.config.loader import file_schema

    click.echo(json.dumps(file_schema(), indent=2))


def show_config(settings: Settings, explicit_file: Path | None, as_json: bool,
                overrides: dict[str, Any] | None = None) -> None:
    facts = effective_config(settings, explicit_file, overrides)
    text = json.dumps(facts, indent=2) if as_json else yaml.safe_dump(facts, sort_keys=False)
    click.echo(redact(text), nl=not text.endswith("\n"))
