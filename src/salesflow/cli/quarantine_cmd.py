"""``salesflow quarantine release``: re-submit quarantined records after a fix."""

from __future__ import annotations

from typing import Any

import click

from salesflow.cli.output import handle_errors, print_facts
from salesflow.cli.params import run_context
from salesflow.cli.summary import batch_facts


@click.group()
def quarantine() -> None:
    """Quarantined records: release them after a fix."""


@quarantine.command("release")
@click.option("--reason", "reasons", multiple=True, metavar="REASON",
              help="Only rows quarantined for this reason, e.g. implausible_quantity (repeatable).")
@click.option("--batch", "batch_ids", multiple=True, type=int, metavar="ID",
              help="Only rows of this Bronze batch (repeatable).")
@click.option("--dry-run", is_flag=True, help="Count what would be released; write nothing.")
@click.option("--bronze-only", is_flag=True, help="Append to Bronze; leave Silver/Gold to the next batch.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
@handle_errors
def release(ctx: click.Context, reasons: tuple[str, ...], batch_ids: tuple[int, ...], dry_run: bool,
            bronze_only: bool, as_json: bool) -> None:
    """Send the chosen quarantine rows' original records through Silver's rules again (after a
    config or code fix). Each row is released once; the quarantine keeps it as history, and its
    release is a Bronze record (source ``release``) that lands in exactly one place again."""
    from salesflow.jobs.sources import release_quarantine

    run = release_quarantine(run_context(ctx), reasons, batch_ids, dry_run, bronze_only)
    facts: dict[str, Any] = {"chosen": run.chosen, "released" if not dry_run else "would_release": run.released,
             "released_before": run.already, "not_releasable": run.not_releasable, "bronze_batch": run.batch_id,
             "sample_positions": run.samples}
    if run.pipeline is not None:
        facts["pipeline"] = batch_facts(run.pipeline, None)
    print_facts(facts, as_json)
