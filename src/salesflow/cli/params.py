"""What the commands share on the way in: the run context the group built, and parsed options."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from salesflow.context import RunContext
from salesflow.errors import ParameterError


def run_context(ctx: click.Context) -> RunContext:
    """The one context of this command, built in the group callback (``cli.main.cli``)."""
    found = ctx.find_object(RunContext)
    if found is None:  # a command object called outside the group (a test that invokes it alone)
        raise click.UsageError("run salesflow commands through the salesflow group")
    return found


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
