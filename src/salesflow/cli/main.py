"""``salesflow`` command line. Each command calls one pipeline function; errors become exit codes."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from salesflow import __version__
from salesflow.cli.logs import setup_logging
from salesflow.cli.summary import batch_facts, print_batch
from salesflow.config import Settings, load_settings
from salesflow.errors import ConfigError, SalesflowError
from salesflow.lake.storage import open_lake
from salesflow.redact import format_exception, install_process_guards, redact

F = TypeVar("F", bound=Callable[..., Any])
console = Console()
if not console.is_terminal:  # piped or captured: tables are not squeezed into 80 columns
    console = Console(width=160)
err_console = Console(stderr=True)


def handle_errors(func: F) -> F:
    """Project errors become one red line on stderr and the error's exit code; no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.secho(redact(f"salesflow: {exc}"), err=True, fg="red")  # one line, never wrapped
            sys.exit(exc.exit_code)
        except SalesflowError as exc:
            click.secho(redact(f"salesflow: {type(exc).__name__}: {exc}"), err=True, fg="red")
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def settings_of(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]  # type: ignore[no-any-return]


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
    settings = load_settings(config_file, **overrides)
    if engine:
        settings = settings.model_copy(update={"engine": settings.engine.model_copy(update={"name": engine})})
    setup_logging(settings.log_format, verbose)
    ctx.obj = {"settings": settings, "config_file": config_file}


@cli.group("config")
def config_group() -> None:
    """The effective configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.pass_context
@handle_errors
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Settings in force, the file and environment variables they came from; secrets masked."""
    from salesflow.cli.config_cmd import show_config

    show_config(settings_of(ctx), ctx.obj["config_file"], as_json)


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

    run_simulation(console, settings_of(ctx), events=events, rate=rate, duration=duration, seed=seed,
                   start=start.date(), days=days, defects=defects, clean=clean, target=target)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@handle_errors
def batch(ctx: click.Context, as_json: bool) -> None:
    """Process everything new in the landing log through Bronze, Silver and Gold."""
    _batch(settings_of(ctx), as_json)


@cli.command()
@click.option("--events", type=click.IntRange(min=1), default=200_000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--reset/--no-reset", default=True, show_default=True,
              help="Start from an empty data directory.")
@click.pass_context
@handle_errors
def demo(ctx: click.Context, events: int, seed: int, reset: bool) -> None:
    """Simulate eight weeks of a shop (enough history to forecast), run the batch pipeline, load the warehouse."""
    from salesflow.cli.simulate_cmd import run_simulation

    settings = settings_of(ctx)
    if reset and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    run_simulation(console, settings, events=events, rate=None, duration=None, seed=seed,
                   start=date(2026, 9, 1), days=56, defects=(), clean=False, target="landing")
    _batch(settings, as_json=False)
    from salesflow.cli.warehouse_cmd import do_load

    do_load(console, settings, full=False, date_from=None, date_to=None, as_json=False)
    console.print("Try: salesflow query --list; salesflow query top_categories --param top_n=5")


@cli.command("ingest-files")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", required=True, help="Name of the file source in the config (files.NAME).")
@click.option("--bronze-only", is_flag=True, help="Land the files in Bronze; leave Silver/Gold to the next batch.")
@click.option("--json", "as_json", is_flag=True, help="Print per-file outcomes and the run summary as JSON.")
@click.pass_context
@handle_errors
def ingest_files(ctx: click.Context, paths: tuple[Path, ...], source: str, bronze_only: bool, as_json: bool) -> None:
    """Ingest partner files (CSV, JSON Lines, Parquet) through the source's column mapping, each once."""
    from salesflow.cli.sources_cmd import ingest_files as run

    sys.exit(run(console, settings_of(ctx), list(paths), source, bronze_only, as_json))


@cli.command()
@click.argument("name")
@click.option("--bronze-only", is_flag=True, help="Land the records in Bronze; leave Silver/Gold to the next batch.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
@handle_errors
def poll(ctx: click.Context, name: str, bronze_only: bool, as_json: bool) -> None:
    """Pull new orders from the partner API ``apis.NAME`` (resumes from its committed cursor)."""
    from salesflow.cli.sources_cmd import poll_api

    poll_api(console, settings_of(ctx), name, bronze_only, as_json)


@cli.command()
@click.option("--host", help="Listen address (default: collector.host).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: collector.port).")
@click.option("--sink", type=click.Choice(["landing", "kafka"]), help="Default: collector.sink.")
@click.option("--insecure-no-auth", is_flag=True,
              help="Accept events without API keys on a non-loopback address (throwaway tests only).")
@click.pass_context
@handle_errors
def collect(ctx: click.Context, host: str | None, port: int | None, sink: str | None, insecure_no_auth: bool) -> None:
    """Serve the HTTP collector: POST /v1/events, /healthz, /metrics, /docs."""
    from salesflow.cli.sources_cmd import serve_collector

    serve_collector(console, settings_of(ctx), host, port, sink, insecure_no_auth)


@cli.command()
@click.pass_context
@handle_errors
def reconcile(ctx: click.Context) -> None:
    """Check that every Bronze record is in exactly one of silver, quarantine, duplicates."""
    from salesflow.pipeline import reconcile_lake

    rec = reconcile_lake(open_lake(settings_of(ctx)))
    console.print_json(data={**vars(rec), "balanced": rec.balanced})
    sys.exit(0 if rec.balanced else 1)


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


@cli.command()
@click.option("--as-of", "as_of", help="Show the lake as it was at this ISO timestamp (Delta time travel).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def status(ctx: click.Context, as_of: str | None, as_json: bool) -> None:
    """Every table's Delta version, rows, files, last update and lag (Bronze batches not yet in it)."""
    from rich.table import Table

    from salesflow.pipeline.inspect import table_status

    instant = parse_as_of(as_of)
    rows = table_status(open_lake(settings_of(ctx), as_of=instant))
    if as_json:
        click.echo(json.dumps([vars(r) for r in rows], default=str, indent=2))
        return
    title = f"Lake at {settings_of(ctx).lake_root}" + (f" as of {instant.isoformat()}" if instant else "")
    table = Table(title=title)
    for column in ("table", "version", "rows", "files", "last update (UTC)", "lag (batches)"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for row in rows:
        version = "-" if row.version is None else str(row.version)
        updated = row.last_update.strftime("%Y-%m-%d %H:%M:%S") if row.last_update else "-"
        lag = "" if row.lag_batches is None else str(row.lag_batches)
        table.add_row(row.table, version, f"{row.rows:,}", str(row.files), updated, lag)
    console.print(table)


@cli.command()
@click.argument("table_name", metavar="LAYER.TABLE")
@click.option("--as-of", "as_of", help="A Delta version number, or an ISO timestamp.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def show(ctx: click.Context, table_name: str, as_of: str | None, limit: int, fmt: str) -> None:
    """Rows of a lake table, now or as of a version/time (time travel), with its version and row count."""
    from salesflow.cli.warehouse_cmd import render
    from salesflow.lake.tables import ALL_TABLES

    spec = next((t for t in ALL_TABLES if t.qualified == table_name), None)
    if spec is None:
        raise click.BadParameter(f"no table {table_name!r}; tables: {', '.join(t.qualified for t in ALL_TABLES)}",
                                 param_hint="LAYER.TABLE")
    root = settings_of(ctx).lake_root
    if as_of is not None and as_of.isdigit():
        delta = open_lake(settings_of(ctx)).table(spec, version=int(as_of))
    else:
        delta = open_lake(settings_of(ctx), as_of=parse_as_of(as_of)).table(spec)
    if delta is None:
        raise ConfigError(f"{table_name} does not exist" + (f" as of {as_of}" if as_of else "") + " in " + root)
    data = delta.to_pyarrow_dataset()
    rows = data.head(limit) if limit else data.to_table()
    err_console.print(f"{table_name} version {delta.version()}: {data.count_rows():,} rows")
    click.echo(render(rows, fmt, console))


@cli.command()
@click.option("--source", type=click.Choice(["landing", "kafka"]), default="landing", show_default=True)
@click.option("--available-now", is_flag=True, help="Process what the source holds now, then stop.")
@click.option("--broker", type=click.Choice(["config", "embedded"]), default="config", show_default=True,
              help="embedded: start a local Kafka-protocol broker (tansu) for this run.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's statistics as JSON at the end.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus /metrics (0: any free port).")
@click.pass_context
@handle_errors
def stream(ctx: click.Context, source: str, available_now: bool, broker: str, as_json: bool,
           metrics_port: int | None) -> None:
    """Run micro-batches continuously (SIGINT/SIGTERM finish the current one, then stop)."""
    from salesflow.cli.stream_cmd import run

    run(console, settings_of(ctx), source, available_now, broker == "embedded", as_json, metrics_port)


@cli.group()
def spark() -> None:
    """The pipeline as Spark jobs (Structured Streaming); see also --engine spark."""


@spark.command("stream")
@click.option("--source", type=click.Choice(["landing", "kafka"]), default="landing", show_default=True)
@click.option("--available-now/--continuous", default=True, show_default=True,
              help="availableNow trigger (drain, then stop) or a processing-time trigger.")
@click.option("--timeout", "timeout_seconds", type=click.FloatRange(min=1), help="Stop a continuous run after this long.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON.")
@click.pass_context
@handle_errors
def spark_stream(ctx: click.Context, source: str, available_now: bool, timeout_seconds: float | None,
                 as_json: bool) -> None:
    """Run Bronze -> Silver -> Gold as a Spark Structured Streaming job (foreachBatch)."""
    from salesflow.pipeline.spark_stream import run_spark_stream

    result = run_spark_stream(settings_of(ctx), source=source, available_now=available_now,
                              timeout_seconds=timeout_seconds)
    rec = result.reconciliation
    facts = {"epochs": result.epochs, "bronze_batches": result.bronze_batches, "records": result.records,
             "skipped_files": result.skipped_files, "seconds": round(result.seconds, 2),
             "events_per_second": round(result.events_per_second),
             "reconciles": bool(rec and rec.balanced)}
    if as_json:
        click.echo(json.dumps(facts))
    else:
        console.print(facts)
    if rec is not None and not rec.balanced:
        sys.exit(1)


@cli.command("run")
@click.option("--once", is_flag=True, help="Stream what is there, run the steps once, exit (for cron/Airflow).")
@click.option("--no-stream", is_flag=True, help="Only the scheduled steps (run.stream: false).")
@click.pass_context
@handle_errors
def run_cmd(ctx: click.Context, once: bool, no_stream: bool) -> None:
    """The main job: stream runner + scheduled steps (warehouse, forecast ...), retried, alerting, one per data dir."""
    from salesflow.cli.stream_cmd import graceful_stop
    from salesflow.ops.supervisor import Supervisor

    settings = settings_of(ctx)
    if no_stream:
        settings.run.stream = False
    with graceful_stop() as stop:
        supervisor = Supervisor(settings, stop)
        code = supervisor.run(once=once)
    for outcome in supervisor.outcomes:
        console.print(f"{outcome.name}: {outcome.status} after {outcome.attempts} attempt(s), "
                      f"{outcome.seconds:.1f} s {outcome.detail}", highlight=False)
    if supervisor.failure is not None:
        click.secho(f"salesflow: {supervisor.failure}", err=True, fg="red")
    sys.exit(code)


@cli.command()
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--layers", default="silver,gold,warehouse", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def backfill(ctx: click.Context, date_from: datetime, date_to: datetime, layers: str, as_json: bool) -> None:
    """Rebuild a date range from Bronze, deterministically and resumably (silver, gold, warehouse)."""
    from salesflow.pipeline.backfill import backfill as run_backfill

    with _progress(disable=as_json) as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, n: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=n)

        result = run_backfill(settings_of(ctx), date_from.date(), date_to.date(),
                              tuple(x.strip() for x in layers.split(",") if x.strip()), report)
    facts = {"from": str(result.first), "to": str(result.last), "layers": list(result.layers),
             "silver_batches_rebuilt": result.silver_batches, "silver_batches_skipped": result.skipped_batches,
             "gold_rows": result.gold_rows, "warehouse_rows": result.warehouse_rows, "seconds": round(result.seconds, 2)}
    _print_facts(facts, as_json)


@cli.command()
@click.option("--from-bronze-version", "version", type=click.IntRange(min=0), required=True,
              help="Rebuild what the Bronze commits from this Delta version on produced downstream.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def replay(ctx: click.Context, version: int, as_json: bool) -> None:
    """Recompute Silver, Gold and the warehouse for Bronze commits from a Delta version on."""
    from salesflow.pipeline.backfill import replay as run_replay

    result = run_replay(settings_of(ctx), version)
    facts = {"silver_batches_rebuilt": result.silver_batches, "dates": [str(result.first), str(result.last)],
             "gold_rows": result.gold_rows, "warehouse_rows": result.warehouse_rows, "seconds": round(result.seconds, 2)}
    _print_facts(facts, as_json)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8501, show_default=True)
@click.pass_context
@handle_errors
def dashboard(ctx: click.Context, host: str, port: int) -> None:
    """Serve the live dashboard (Streamlit): Live, Sales, Forecast, Data quality, Pipeline."""
    import os
    from importlib import resources

    settings = settings_of(ctx)
    app = resources.files("salesflow.dashboard").joinpath("app.py")
    env = {**os.environ, "SALESFLOW__DATA_DIR": str(settings.data_dir.resolve())}
    config_file = ctx.parent.params.get("config_file") if ctx.parent else None
    if config_file:
        env["SALESFLOW_CONFIG"] = str(Path(config_file).resolve())
    console.print(f"dashboard on http://{host}:{port}", highlight=False)
    sys.stdout.flush()
    # Become Streamlit (exec, not a child): a signal to this process then reaches the server itself.
    os.execve(sys.executable, [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",  # noqa: S606 - fixed argv of our own executable, no shell
                               "--server.address", host, "--server.port", str(port),
                               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"], env)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default="report.html", show_default=True)
@click.pass_context
@handle_errors
def report(ctx: click.Context, out: Path) -> None:
    """Write the dashboard's charts and tables as one self-contained HTML file (e-mail, CI artifacts)."""
    from salesflow.dashboard.report import write_report

    counts = write_report(settings_of(ctx), out)
    console.print(f"report: {out} ({', '.join(f'{k}: {v}' for k, v in counts.items())})", highlight=False)


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

    settings = settings_of(ctx)
    click.echo(render_dag(data_dir=str(settings.data_dir.resolve()), config=ctx.parent.params.get("config_file")
                          and str(Path(ctx.parent.params["config_file"]).resolve()) if ctx.parent else None,
                          drop_dir=drop_dir, file_source=file_source, schedule=schedule, start=start.date(),
                          retries=retries), nl=False)


@cli.command()
@click.option("--retention-hours", type=click.FloatRange(min=1), help="Vacuum guard (default: stream.vacuum_retention_hours).")
@click.pass_context
@handle_errors
def maintain(ctx: click.Context, retention_hours: float | None) -> None:
    """Compact small files, checkpoint the Delta logs and vacuum old files of every table."""
    from salesflow.lake.maintenance import maintain as run_maintenance

    settings = settings_of(ctx)
    for row in run_maintenance(open_lake(settings), retention_hours or settings.stream.vacuum_retention_hours):
        console.print(f"{row.table}: {row.files_before} -> {row.files_after} files, {row.vacuumed} vacuumed")


@cli.group()
def warehouse() -> None:
    """Load and describe the star-schema warehouse (DuckDB file, or PostgreSQL via warehouse.url)."""


@warehouse.command("load")
@click.option("--full", is_flag=True, help="Empty every warehouse table and rebuild from the lake.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Reload from this event date.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Reload up to this event date.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handle_errors
def warehouse_load(ctx: click.Context, full: bool, date_from: datetime | None, date_to: datetime | None,
                   as_json: bool) -> None:
    """Load new Silver/Gold data into the warehouse (incremental unless --full or a date range)."""
    from salesflow.cli.warehouse_cmd import do_load

    if full and (date_from or date_to):
        raise click.UsageError("--full reloads everything; do not combine it with --from/--to")
    do_load(console, settings_of(ctx), full, date_from, date_to, as_json)


@warehouse.command("ddl")
@click.option("--dialect", type=click.Choice(["duckdb", "postgres", "redshift", "bigquery"]), default="postgres",
              show_default=True)
@click.option("--location", help="s3:// or gs:// prefix of Parquet exports: also print the load statements.")
@handle_errors
def warehouse_ddl(dialect: str, location: str | None) -> None:
    """Print the star schema (and bulk-load statements) for a warehouse dialect."""
    from salesflow.cli.warehouse_cmd import print_ddl

    print_ddl(dialect, location)


@cli.command()
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Query parameter (repeatable).")
@click.option("--list", "show_list", is_flag=True, help="List the analytics queries and their parameters.")
@click.option("--as-of", "as_of", help="Answer from the lake as it was at this ISO timestamp (loads a scratch "
                                       "DuckDB warehouse from the time-travelled tables).")
@click.pass_context
@handle_errors
def query(ctx: click.Context, name: str | None, fmt: str, params: tuple[str, ...], show_list: bool,
          as_of: str | None) -> None:
    """Run an analytics query on the warehouse."""
    from salesflow.cli.warehouse_cmd import do_query

    do_query(console, settings_of(ctx), name, fmt, params, show_list, parse_as_of(as_of))


@cli.group()
def forecast() -> None:
    """Demand forecasts: backtest, train and register models, predict into gold and the warehouse."""


_MODELS_OPTION = click.option("--models", help="Comma-separated subset of: seasonal_naive, ridge, lightgbm.")


@forecast.command("evaluate")
@_MODELS_OPTION
@click.option("--plot", type=click.Path(path_type=Path), help="Write actual vs predicted per category (PNG).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_evaluate(ctx: click.Context, models: str | None, plot: Path | None, as_json: bool) -> None:
    """Rolling-origin backtest: MAE, RMSE, WAPE, MASE, R2 per model and horizon."""
    from salesflow.cli.forecast_cmd import do_evaluate

    do_evaluate(console, settings_of(ctx), models, plot, as_json)


@forecast.command("train")
@_MODELS_OPTION
@click.option("--promote", "promote", default="best", show_default=True,
              help="'best' (lowest WAPE), a model kind, or 'none' to register without promoting.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_train(ctx: click.Context, models: str | None, promote: str, as_json: bool) -> None:
    """Backtest, fit on all data, register each model, promote the best."""
    from salesflow.cli.forecast_cmd import do_train

    do_train(console, settings_of(ctx), models, None if promote == "none" else promote, as_json)


@forecast.command("predict")
@click.option("--version", help="A registered version (default: the promoted one).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_predict(ctx: click.Context, version: str | None, as_json: bool) -> None:
    """Next-day and next-7-day demand per product, with intervals, into gold.demand_predictions."""
    from salesflow.cli.forecast_cmd import do_predict

    do_predict(console, settings_of(ctx), version, as_json)


@forecast.command("models")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_models(ctx: click.Context, as_json: bool) -> None:
    """The model registry: versions, data ranges, backtest WAPE, which one is promoted."""
    from salesflow.cli.forecast_cmd import do_models

    do_models(console, settings_of(ctx), as_json)


@forecast.command("promote")
@click.argument("version")
@click.pass_context
@handle_errors
def forecast_promote(ctx: click.Context, version: str) -> None:
    """Make VERSION the model `forecast predict` uses."""
    from salesflow.forecast.registry import Registry

    Registry(settings_of(ctx).registry_dir).promote(version)
    console.print(f"promoted {version}")


@cli.group()
def quality() -> None:
    """Data-quality gate results."""


@quality.command("report")
@click.option("--run", "run_id", help="A run id (default: the latest run).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
@handle_errors
def quality_report(ctx: click.Context, run_id: str | None, as_json: bool) -> None:
    """Show the latest run's checks: rule, action, violations and sample rows. Exit 1 on a blocking failure."""
    from salesflow.cli.quality_cmd import report

    sys.exit(report(console, settings_of(ctx), run_id, as_json))


def _print_facts(facts: dict[str, Any], as_json: bool) -> None:
    """Plain JSON for machines, highlighted JSON for people."""
    if as_json:
        click.echo(json.dumps(facts, indent=2))
    else:
        console.print_json(data=facts)


def _batch(settings: Settings, as_json: bool) -> None:
    from salesflow.pipeline import run_batch
    from salesflow.pipeline.inspect import sample_gold_record

    with _progress(disable=as_json) as progress:
        tasks = {stage: progress.add_task(stage, total=_pending_records(settings)) for stage in ("bronze", "silver", "gold")}
        run = run_batch(settings, progress=lambda stage, n: progress.advance(tasks[stage], n))
    facts = batch_facts(run, sample_gold_record(settings))
    if as_json:
        click.echo(json.dumps(facts, default=str, indent=2))
    else:
        print_batch(console, facts)


def _pending_records(settings: Settings) -> int:
    from salesflow.bronze.ingest import pending_segments
    from salesflow.pipeline.batch import landing_checkpoint
    from salesflow.sources.landing import LandingLog

    segments = pending_segments(LandingLog(settings.landing_dir), landing_checkpoint(settings))
    return sum(s.path.read_bytes().count(b"\n") for s in segments)


def _progress(disable: bool) -> Progress:
    return Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("records"), TimeElapsedColumn(), console=err_console, disable=disable)


def main(argv: list[str] | None = None) -> None:
    from salesflow.ops.memory import small_pages_only

    small_pages_only()
    install_process_guards()  # stdout, stderr and tracebacks pass the redaction layer from here on
    try:
        cli.main(args=argv, prog_name="salesflow")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
    except Exception as exc:  # a bug, not a project error: the traceback, redacted, and exit 1
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
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            # The reader went away (`salesflow status | head -1`): exit 1, as click does when
            # the pipe closes while a command prints.
            code = code or 1
    os._exit(code)


