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
from salesflow.redact import MASK, is_secret_key, redact


def effective_config(settings: Settings, explicit_file: Path | None) -> dict[str, Any]:
    """Which file, which environment variables (names only), and every setting's value in force."""
    path = config_file_in_use(explicit_file)
    env = sorted(name for name in os.environ if name.startswith(ENV_PREFIX) or name == CONFIG_ENV)
    return {"config_file": str(path.resolve()) if path else None, "environment": env,
            "settings": _masked(settings.model_dump(mode="json"), settings.model_dump())}


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
    job = run_context(ctx)
    show_config(job.settings, job.config_file, as_json)


def show_config(settings: Settings, explicit_file: Path | None, as_json: bool) -> None:
    facts = effective_config(settings, explicit_file)
    text = json.dumps(facts, indent=2) if as_json else yaml.safe_dump(facts, sort_keys=False)
    click.echo(redact(text), nl=not text.endswith("\n"))
