"""``salesflow ingest-files`` and ``salesflow poll``: partner data through Bronze, Silver and Gold."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from salesflow.cli.output import console, handle_errors, print_line, to_json
from salesflow.cli.params import run_context
from salesflow.cli.summary import batch_facts, print_batch

if TYPE_CHECKING:  # the jobs load when an ingestion command runs, not for every command
    from salesflow.bronze.file_ingest import FileOutcome
    from salesflow.jobs.sources import FilesRun, PollRun


@click.command("ingest-files")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", required=True, help="Name of the file source in the config (files.NAME).")
@click.option("--bronze-only", is_flag=True, help="Land the files in Bronze; leave Silver/Gold to the next batch.")
@click.option("--json", "as_json", is_flag=True, help="Print per-file outcomes and the run summary as JSON.")
@click.pass_context
@handle_errors
def ingest_files_cmd(ctx: click.Context, paths: tuple[Path, ...], source: str, bronze_only: bool,
                     as_json: bool) -> None:
    """Ingest partner files (CSV, JSON Lines, Parquet) through the source's column mapping, each once."""
    from salesflow.jobs.sources import ingest_files

    run = ingest_files(run_context(ctx), list(paths), source, bronze_only)
    print_files_run(run, as_json)
    sys.exit(2 if run.rejected else 0)  # 2: a file was rejected (the others went in)


@click.command()
@click.argument("name")
@click.option("--bronze-only", is_flag=True, help="Land the records in Bronze; leave Silver/Gold to the next batch.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
@handle_errors
def poll(ctx: click.Context, name: str, bronze_only: bool, as_json: bool) -> None:
    """Pull new orders from the partner API ``apis.NAME`` (resumes from its committed cursor)."""
    from salesflow.jobs.sources import poll_api

    print_poll_run(poll_api(run_context(ctx), name, bronze_only), as_json)


@click.command()
@click.option("--host", help="Listen address (default: collector.host).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: collector.port).")
@click.option("--sink", type=click.Choice(["landing", "kafka"]), help="Default: collector.sink.")
@click.option("--insecure-no-auth", is_flag=True,
              help="Accept events without API keys on a non-loopback address (throwaway tests only).")
@click.pass_context
@handle_errors
def collect(ctx: click.Context, host: str | None, port: int | None, sink: str | None, insecure_no_auth: bool) -> None:
    """Serve the HTTP collector: POST /v1/events, /healthz, /metrics, /docs."""
    from salesflow.jobs.collector import serve_collector

    serve_collector(run_context(ctx), host, port, sink, insecure_no_auth, announce=print_line)


def print_files_run(run: FilesRun, as_json: bool) -> None:
    facts = None if run.pipeline is None else batch_facts(run.pipeline, None)
    reference = None if run.reference is None else {
        "table": f"reference.{run.reference.name}", "rows": run.reference.rows, "new": run.reference.new,
        "recategorised": len(run.reference.recategorised),
        "restated_days": [str(d) for d in run.restated.days] if run.restated else []}
    if as_json:
        click.echo(to_json({"files": [_outcome(o) for o in run.outcomes], "pipeline": facts, "reference": reference}))
        return
    _print_outcomes(console, run.outcomes)
    if facts is not None:
        print_batch(console, facts)
    if run.reference is not None:
        line = f"reference.{run.reference.name}: {run.reference.rows:,} row(s), {run.reference.new:,} new"
        if run.reference.name == "products":
            line += (f"; {len(run.reference.recategorised):,} product(s) got a new category; "
                     + (run.restated.describe() if run.restated else "no Gold day needed restating"))
        console.print(line)


def print_poll_run(run: PollRun, as_json: bool) -> None:
    facts = None if run.pipeline is None else batch_facts(run.pipeline, None)
    if as_json:
        click.echo(to_json({"source": run.source, "pages": run.pages, "records": run.records,
                               "retries": run.retries, "pipeline": facts}))
        return
    console.print(f"api {run.source}: {run.pages} page(s), {run.records:,} record(s) to Bronze, "
                  f"{run.retries} retried request(s)")
    if facts is not None:
        print_batch(console, facts)


def _outcome(o: FileOutcome) -> dict[str, object]:
    return {"path": str(o.path), "status": o.status, "rows": o.rows, "batch_id": o.batch_id, "message": o.message}


def _print_outcomes(console: Console, outcomes: list[FileOutcome]) -> None:
    table = Table(title="Partner files")
    for column in ("file", "status", "records", "bronze batch", "note"):
        table.add_column(column)
    styles = {"ingested": "green", "skipped": "yellow", "waiting": "cyan", "rejected": "red"}
    for o in outcomes:
        table.add_row(str(o.path), f"[{styles[o.status]}]{o.status}[/]", f"{o.rows:,}",
                      "-" if o.batch_id is None else str(o.batch_id), o.message)
    console.print(table)
    for o in outcomes:
        if o.status == "rejected":
            click.secho(f"salesflow: rejected {o.message}", err=True, fg="red")
    sys.stdout.flush()
