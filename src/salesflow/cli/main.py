"""``salesflow`` command line: click declarations only. The group callback builds the one
``RunContext``; each command calls one job (``salesflow.jobs``) and hands the result to an output
helper (``cli.output`` or its ``*_cmd`` module). Project errors become exit codes in one wrapper."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from salesflow import __version__
from salesflow.cli.config_cmd import config_group
from salesflow.cli.forecast_cmd import forecast
from salesflow.cli.output import (
    StagedProgress,
    console,
    handle_errors,
    interrupted,
    print_facts,
    print_head,
    print_line,
    print_reconciliation,
    print_status,
    progress_bars,
    status_title,
)
from salesflow.cli.params import PendingContext, parse_as_of, run_context
from salesflow.cli.quality_cmd import quality
from salesflow.cli.quarantine_cmd import quarantine
from salesflow.cli.sources_cmd import collect, ingest_files_cmd, poll
from salesflow.cli.stream_cmd import run_cmd, spark, stream
from salesflow.cli.summary import batch_facts, print_batch
from salesflow.cli.warehouse_cmd import print_load, query, warehouse
from salesflow.errors import INTERRUPTED, INTERRUPTED_LINE
from salesflow.redact import REDACTOR, format_exception, install_process_guards

if TYPE_CHECKING:  # commands build it on first use (cli.params.PendingContext)
    from salesflow.context import RunContext


@click.group()
@click.version_option(__version__, prog_name="salesflow")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML config file.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Base directory for embedded data.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default=None,
              help="Engine that runs the SQL models (overrides engine.name).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
@click.pass_context
@handle_errors
def cli(ctx: click.Context, config_file: Path | None, data_dir: Path | None, engine: str | None,
        verbose: bool) -> None:
    """salesflow: sales events to a Bronze/Silver/Gold lakehouse and business answers."""
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    if engine:
        overrides["engine"] = {"name": engine}
    ctx.obj = PendingContext(config_file, overrides, verbose)


for command in (config_group, forecast, quality, quarantine, warehouse, query, stream, spark, run_cmd,
                ingest_files_cmd, poll, collect):
    cli.add_command(command)


@cli.command()
@click.option("--json-schema", "json_schema", is_flag=True, help="Print the event JSON Schema.")
@click.option("--reference", is_flag=True, help="Print the reference-data JSON Schemas instead.")
@click.option("--validate", "validate_file", type=click.Path(exists=True, path_type=Path),
              help="Check a JSON Lines file against the contract; exit 1 if any line fails.")
@handle_errors
def contract(json_schema: bool, reference: bool, validate_file: Path | None) -> None:
    """Show or check the event contract."""
    from salesflow.cli.contract_cmd import print_schema, validate_lines

    if validate_file is not None:
        sys.exit(validate_lines(console, validate_file))
    print_schema(reference=reference, as_json=json_schema or reference)


@cli.command()
@click.option("--events", type=click.IntRange(min=0), help="Number of records (batch mode).")
@click.option("--rate", type=click.FloatRange(min=0.1), help="Events per second (real-time mode).")
@click.option("--duration", type=click.FloatRange(min=0.1), help="Seconds to run in real-time mode.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2026-09-01", show_default=True,
              help="First simulated day (batch mode).")
@click.option("--days", type=click.IntRange(min=1), default=28, show_default=True)
@click.option("--defect", "defects", multiple=True, metavar="KIND=RATE",
              help="Set a defect rate, e.g. --defect duplicate=0.02 (repeatable).")
@click.option("--clean", is_flag=True, help="Turn every defect off (before --defect).")
@click.option("--to", "target", default="landing", show_default=True, help="landing, or kafka://HOST:PORT/TOPIC.")
@click.pass_context
@handle_errors
def simulate(ctx: click.Context, events: int | None, rate: float | None, duration: float | None,
             seed: int, start: datetime, days: int, defects: tuple[str, ...], clean: bool, target: str) -> None:
    """Generate realistic, deterministic shop traffic into the landing log."""
    from salesflow.cli.simulate_cmd import run_simulation

    run_simulation(console, run_context(ctx), events=events, rate=rate, duration=duration, seed=seed,
                   start=start.date(), days=days, defects=defects, clean=clean, target=target)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@handle_errors
def batch(ctx: click.Context, as_json: bool) -> None:
    """Process everything new in the landing log through Bronze, Silver and Gold."""
    _batch(run_context(ctx), as_json)


@cli.command()
@click.option("--events", type=click.IntRange(min=1), default=200_000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--reset", is_flag=True, help="Delete the data directory first (history, models, warehouse).")
@click.pass_context
@handle_errors
def demo(ctx: click.Context, events: int, seed: int, reset: bool) -> None:
    """Simulate eight weeks of a shop (enough history to forecast), run the batch pipeline, load the
    warehouse. Safe to rerun: a lake that already holds data keeps it and is not simulated into again."""
    from salesflow.cli.simulate_cmd import run_simulation
    from salesflow.jobs.lake import records_held
    from salesflow.jobs.warehouse import load_warehouse

    job = run_context(ctx)
    data_dir = job.settings.data_dir
    if reset and data_dir.exists():
        print_line(f"Removing {data_dir} (--reset): its lake, checkpoints, models and warehouse.")
        shutil.rmtree(data_dir)
    held = records_held(job)
    if held:
        print_line(f"{data_dir} already holds {held:,} records: the demo data is not generated again "
                   "(`salesflow demo --reset` starts over). Processing anything new.")
    else:
        print_line(f"Simulating {events:,} demo events into {data_dir} (seed {seed}).")
        run_simulation(console, job, events=events, rate=None, duration=None, seed=seed,
                       start=date(2026, 9, 1), days=56, defects=(), clean=False, target="landing")
    _batch(job, as_json=False)
    print_load(load_warehouse(job), as_json=False)
    console.print("Try: salesflow query --list; salesflow query top_categories --param top_n=5")


@cli.command()
@click.pass_context
@handle_errors
def reconcile(ctx: click.Context) -> None:
    """Check that every Bronze record is in exactly one of silver, quarantine, duplicates."""
    from salesflow.jobs.lake import reconcile as run_reconcile

    sys.exit(print_reconciliation(run_reconcile(run_context(ctx))))


@cli.command()
@click.option("--as-of", "as_of", help="Show the lake as it was at this ISO timestamp (Delta time travel).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def status(ctx: click.Context, as_of: str | None, as_json: bool) -> None:
    """Every table's Delta version, rows, files, last update and lag (Bronze batches not yet in it)."""
    from salesflow.jobs.lake import lake_status

    instant = parse_as_of(as_of)
    job = run_context(ctx)
    print_status(lake_status(job, instant), status_title(job.settings.lake_root, instant), as_json)


@cli.command()
@click.argument("table_name", metavar="LAYER.TABLE")
@click.option("--as-of", "as_of", help="A Delta version number, or an ISO timestamp.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def show(ctx: click.Context, table_name: str, as_of: str | None, limit: int, fmt: str) -> None:
    """Rows of one lake table, now or at a past version/time (time travel)."""
    from salesflow.jobs.lake import show_table

    version = int(as_of) if as_of is not None and as_of.isdigit() else None
    instant = None if version is not None else parse_as_of(as_of)
    print_head(table_name, show_table(run_context(ctx), table_name, limit, version, instant), fmt)


@cli.command()
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--layers", default="silver,gold,warehouse", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def backfill(ctx: click.Context, date_from: datetime, date_to: datetime, layers: str, as_json: bool) -> None:
    """Rebuild a date range from Bronze, deterministically and resumably (silver, gold, warehouse)."""
    from salesflow.jobs.backfill import backfill as run_backfill

    with progress_bars(disable=as_json) as progress:
        result = run_backfill(run_context(ctx), date_from.date(), date_to.date(),
                              tuple(x.strip() for x in layers.split(",") if x.strip()), StagedProgress(progress))
    print_facts(result.facts(), as_json)


@cli.command()
@click.option("--from-bronze-version", "version", type=click.IntRange(min=0), required=True,
              help="Rebuild what the Bronze commits from this Delta version on produced downstream.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def replay(ctx: click.Context, version: int, as_json: bool) -> None:
    """Recompute Silver, Gold and the warehouse for Bronze commits from a Delta version on."""
    from salesflow.jobs.backfill import replay as run_replay

    print_facts(run_replay(run_context(ctx), version).replay_facts(), as_json)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8501, show_default=True)
@click.pass_context
@handle_errors
def dashboard(ctx: click.Context, host: str, port: int) -> None:
    """Serve the live dashboard (Streamlit): Live, Sales, Forecast, Data quality, Pipeline."""
    from salesflow.common.extras import check
    from salesflow.common.processes import port_taken
    from salesflow.errors import ConfigError
    from salesflow.jobs.dashboard import serve_dashboard

    check("streamlit", "the dashboard")
    if port_taken(host, port):  # the URL is printed before Streamlit starts: it must be ours
        raise ConfigError(f"port {port} on {host} is already in use: stop what listens there or choose another "
                          f"port (--port)")
    print_line(f"dashboard on http://{host}:{port}")
    serve_dashboard(run_context(ctx), host, port)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default="report.html", show_default=True)
@click.pass_context
@handle_errors
def report(ctx: click.Context, out: Path) -> None:
    """Write the dashboard's charts and tables as one self-contained HTML file (e-mail, CI artifacts)."""
    from salesflow.jobs.dashboard import write_html_report

    counts = write_html_report(run_context(ctx), out)
    print_line(f"report: {out} ({', '.join(f'{k}: {v}' for k, v in counts.items())})")


@cli.command("airflow-dag")
@click.option("--drop-dir", default="/data/partner-drops", show_default=True,
              help="Where partner files land, one folder per day (YYYY-MM-DD).")
@click.option("--file-source", default="partner", show_default=True, help="files.NAME used for the drops.")
@click.option("--schedule", default="@daily", show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2026-09-01", show_default=True)
@click.option("--retries", type=click.IntRange(0, 20), default=3, show_default=True)
@click.pass_context
@handle_errors
def airflow_dag(ctx: click.Context, drop_dir: str, file_source: str, schedule: str, start: datetime,
                retries: int) -> None:
    """Print an Airflow DAG for the daily chain: salesflow airflow-dag > dags/salesflow.py"""
    from salesflow.ops.airflow import render_dag

    job = run_context(ctx)
    config = str(Path(job.config_file).resolve()) if job.config_file else None
    click.echo(render_dag(data_dir=str(job.settings.data_dir.resolve()), config=config, drop_dir=drop_dir,
                          file_source=file_source, schedule=schedule, start=start.date(), retries=retries), nl=False)


@cli.command()
@click.option(
    "--retention-hours", type=click.FloatRange(min=1), help="Vacuum guard (default: stream.vacuum_retention_hours)."
)
@click.pass_context
@handle_errors
def maintain(ctx: click.Context, retention_hours: float | None) -> None:
    """Compact small files, checkpoint the Delta logs and vacuum old files of every table."""
    from salesflow.jobs.lake import maintain_lake

    for row in maintain_lake(run_context(ctx), retention_hours):
        print_line(f"{row.table}: {row.files_before} -> {row.files_after} files, {row.vacuumed} vacuumed")


def _batch(job: RunContext, as_json: bool) -> None:
    from salesflow.jobs.batch import pending_records, run_batch

    with progress_bars(disable=as_json) as progress:
        total = pending_records(job)
        tasks = {stage: progress.add_task(stage, total=total) for stage in ("bronze", "silver", "gold")}
        run = run_batch(job, progress=lambda stage, n: progress.advance(tasks[stage], n), sample=True)
    facts = batch_facts(run, run.sample)
    if as_json:
        print_facts(facts, as_json=True)
    else:
        print_batch(console, facts)


def main(argv: list[str] | None = None) -> None:
    from salesflow.ops.memory import small_pages_only

    small_pages_only()
    install_process_guards()  # stdout, stderr and tracebacks pass the redaction layer from here on
    REDACTOR.add_environment()  # before any settings load: a command that reads none is covered too
    try:
        cli.main(args=argv, prog_name="salesflow")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
    except (Exception, KeyboardInterrupt) as exc:  # a bug, not a project error: the traceback, redacted
        if interrupted(exc):  # Ctrl-C outside a command body (while loading, or in click itself)
            print(INTERRUPTED_LINE, file=sys.stderr)
            code = INTERRUPTED
        else:
            sys.stderr.write(format_exception(exc))
            code = 1
    else:
        code = 0
    # The work is committed and the output written: flush, and leave without the interpreter's
    # teardown. It would free a big run's Arrow tables and DuckDB memory object by object (a
    # quarter of a second after 2M events), and delta-rs can abort in it after talking to an
    # object store ("terminate called without an active exception"), turning a finished command
    # into exit 134. Every command has joined its threads and closed its engines by now.
    logging.shutdown()
    for out in (sys.stdout, sys.stderr):
        try:
            out.flush()
        except BrokenPipeError:
            # The reader went away (`salesflow status | head -1`): exit 1, as click does when
            # the pipe closes while a command prints.
            code = code or 1
    os._exit(code)
