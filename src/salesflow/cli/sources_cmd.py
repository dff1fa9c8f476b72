"""``salesflow ingest-files`` and ``salesflow poll``: partner data through Bronze, Silver and Gold."""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from salesflow.bronze.file_ingest import FileIngestor, FileOutcome
from salesflow.cli.summary import batch_facts, print_batch
from salesflow.config import Settings
from salesflow.engine.base import EngineAdapter
from salesflow.errors import ConfigError
from salesflow.lake.delta import Lake
from salesflow.lake.storage import open_lake
from salesflow.pipeline import run_batch
from salesflow.pipeline.batch import BronzeSource


def ingest_files(console: Console, settings: Settings, paths: list[Path], source: str, bronze_only: bool,
                 as_json: bool) -> int:
    """Exit code: 0 when every file was ingested or skipped, 2 when one was rejected."""
    ingestors: list[FileIngestor] = []

    def make(lake: Lake, engine: EngineAdapter) -> FileIngestor:
        ingestors.append(FileIngestor(lake, engine, settings, source, paths))
        return ingestors[-1]

    facts = _drive(settings, make, bronze_only)
    outcomes = ingestors[0].outcomes if ingestors else []
    if as_json:
        click.echo(json.dumps({"files": [_outcome(o) for o in outcomes], "pipeline": facts}, default=str, indent=2))
    else:
        _print_outcomes(console, outcomes)
        if facts is not None:
            print_batch(console, facts)
    return 2 if any(o.status == "rejected" for o in outcomes) else 0


def _drive(settings: Settings, make: Callable[[Lake, EngineAdapter], BronzeSource],
           bronze_only: bool) -> dict[str, Any] | None:
    """Land the source in Bronze only, or run it through Silver and Gold; the run's facts if so."""
    if not bronze_only:
        return batch_facts(run_batch(settings, bronze=make), None)
    from salesflow.engine import create_engine

    with create_engine(settings) as engine:
        for _ in make(open_lake(settings), engine).batches():
            pass
    return None


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


def poll_api(console: Console, settings: Settings, name: str, bronze_only: bool, as_json: bool) -> None:
    from salesflow.bronze.api_ingest import ApiPoller

    pollers: list[ApiPoller] = []

    def make(lake: Lake, engine: EngineAdapter) -> ApiPoller:
        pollers.append(ApiPoller(lake, engine, settings, name))
        return pollers[-1]

    facts = _drive(settings, make, bronze_only)
    poller = pollers[0]
    summary = {"source": name, "pages": poller.pages, "records": poller.records,
               "retries": poller.http.retries, "pipeline": facts}
    if as_json:
        click.echo(json.dumps(summary, default=str, indent=2))
        return
    console.print(f"api {name}: {poller.pages} page(s), {poller.records:,} record(s) to Bronze, "
                  f"{poller.http.retries} retried request(s)")
    if facts is not None:
        print_batch(console, facts)


def serve_collector(console: Console, settings: Settings, host: str | None, port: int | None,
                    sink_name: str | None, insecure_no_auth: bool = False) -> None:
    import uvicorn

    from salesflow.collector import create_app
    from salesflow.collector.guard import ConnectionLimits, GuardedH11Protocol
    from salesflow.collector.sinks import KafkaSink, LandingSink, Sink
    from salesflow.sources.landing import LandingLog

    updates = {k: v for k, v in {"host": host, "port": port, "sink": sink_name}.items() if v is not None}
    settings = settings.model_copy(update={"collector": settings.collector.model_copy(update=updates)})
    config = settings.collector
    _refuse_open_collector(config.host, bool(config.api_keys), insecure_no_auth)
    sink: Sink = KafkaSink(settings) if config.sink == "kafka" else LandingSink(LandingLog(settings.landing_dir))
    if not config.api_keys:
        console.print(f"[yellow]collector.api_keys is empty: authentication is off ({config.host} only)[/]")
    scheme = "https" if config.ssl_certfile else "http"
    console.print(f"collector on {scheme}://{config.host}:{config.port}/v1/events -> {config.sink} "
                  f"(docs: /docs, metrics: /metrics)")
    limits = ConnectionLimits(config.header_timeout_seconds, config.body_timeout_seconds,
                              config.max_connections_per_client)
    uvicorn.run(create_app(settings, sink), host=config.host, port=config.port, log_level="warning",
                timeout_graceful_shutdown=5, http=GuardedH11Protocol.with_limits(limits),
                limit_concurrency=config.max_connections, ssl_certfile=config.ssl_certfile,
                ssl_keyfile=config.ssl_keyfile)


def _refuse_open_collector(host: str, has_keys: bool, insecure_no_auth: bool) -> None:
    """Closed by default: without API keys the collector listens on a loopback address only."""
    if has_keys or insecure_no_auth or is_loopback(host):
        return
    raise ConfigError(f"collector.api_keys is empty: refusing to accept unauthenticated events on {host}; "
                      f"set collector.api_keys (SHA-256 of each key), listen on 127.0.0.1, or pass "
                      f"--insecure-no-auth for a throwaway test")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to any interface
