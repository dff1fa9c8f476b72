"""What the commands share on the way in: the run context the group built, and parsed options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from salesflow.cli.logs import setup_logging

if TYPE_CHECKING:  # built on first use: `--help` and settings-free commands do not load the lake
    from salesflow.context import RunContext
from salesflow.errors import ParameterError


@dataclass
class PendingContext:
    """What the group's options asked for; the context is built when a command first needs it,
    so commands that read no settings (``config validate``, ``config schema``, ``contract``) do
    not depend on the environment's settings being valid."""

    config_file: Path | None
    overrides: dict[str, Any]
    verbose: bool
    built: RunContext | None = None

    def get(self, check_extras: bool = True) -> RunContext:
        if self.built is None:
            from salesflow.context import RunContext

            self.built = RunContext.load(self.config_file, **self.overrides)
            setup_logging(self.built.settings.log_format, self.verbose)
        if check_extras:
            from salesflow.context import check_extras as check_installed

            check_installed(self.built.settings)
        return self.built


def run_context(ctx: click.Context, check_extras: bool = True) -> RunContext:
    """The one context of this command (``cli.main.cli`` says what to build). ``check_extras``:
    fail at once when the settings ask for an optional package that is not installed (the
    ``config`` commands, which show and check settings, do not)."""
    pending = ctx.find_object(PendingContext)
    if pending is None:  # a command object called outside the group (a test that invokes it alone)
        raise click.UsageError("run salesflow commands through the salesflow group")
    return pending.get(check_extras)


def parse_as_of(value: str | None) -> datetime | None:
    """An ISO instant (UTC when no offset is given) for ``--as-of``."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or timestamp (2026-11-22T10:00:00Z)",
                                 param_hint="--as-of") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--param NAME=VALUE`` pairs."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParameterError(f"--param {pair!r}: expected NAME=VALUE")
        out[key] = value
    return out
