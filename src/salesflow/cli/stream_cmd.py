"""``salesflow stream``, ``salesflow spark stream`` and ``salesflow run``: the long-running
commands, stopped gracefully by SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

import click

from salesflow.cli.output import console, handle_errors, print_line
from salesflow.cli.params import run_context
from salesflow.common.parts import seconds_by_part

if TYPE_CHECKING:
    from salesflow.jobs.spark_stream import SparkStreamResult
    from salesflow.jobs.supervisor import Supervisor
    from salesflow.pipeline.stats import StreamStats


@contextlib.contextmanager
def graceful_stop() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the event: the runner finishes its micro-batch and returns."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command()
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
    from salesflow.jobs.stream import serve_stream

    with graceful_stop() as stop:
        stats = serve_stream(run_context(ctx), source, available_now=available_now, stop=stop,
                             embedded=broker == "embedded", metrics_port=metrics_port, announce=print_line)
    print_stream(stats, as_json)


@click.group()
def spark() -> None:
    """The pipeline as Spark jobs (Structured Streaming); see also --engine spark."""


@spark.command("stream")
@click.option("--source", type=click.Choice(["landing", "kafka"]), default="landing", show_default=True)
@click.option("--available-now/--continuous", default=True, show_default=True,
              help="availableNow trigger (drain, then stop) or a processing-time trigger.")
@click.option(
    "--timeout", "timeout_seconds", type=click.FloatRange(min=1), help="Stop a continuous run after this long."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON.")
@click.pass_context
@handle_errors
def spark_stream(ctx: click.Context, source: str, available_now: bool, timeout_seconds: float | None,
                 as_json: bool) -> None:
    """Run Bronze -> Silver -> Gold as a Spark Structured Streaming job (foreachBatch)."""
    from salesflow.jobs.spark_stream import run_spark_stream

    result = run_spark_stream(run_context(ctx), source=source, available_now=available_now,
                              timeout_seconds=timeout_seconds)
    sys.exit(print_spark_stream(result, as_json))


@click.command("run")
@click.option("--once", is_flag=True, help="Stream what is there, run the steps once, exit (for cron/Airflow).")
@click.option("--no-stream", is_flag=True, help="Only the scheduled steps (run.stream: false).")
@click.pass_context
@handle_errors
def run_cmd(ctx: click.Context, once: bool, no_stream: bool) -> None:
    """The main job: stream runner + scheduled steps (warehouse, forecast ...), retried, alerting, one per data dir."""
    from salesflow.jobs.supervisor import Supervisor

    job = run_context(ctx)
    logging.getLogger("salesflow.run").setLevel(logging.INFO)  # the job says what it does without -v
    if no_stream:
        job = job.with_settings(job.settings.model_copy(
            update={"run": job.settings.run.model_copy(update={"stream": False})}))
    with graceful_stop() as stop:
        supervisor = Supervisor(job, stop)
        code = supervisor.run(once=once)
    print_supervised(supervisor)
    sys.exit(code)


def print_stream(stats: StreamStats, as_json: bool) -> None:
    summary = {**stats.summary(), "seconds_by_part": seconds_by_part()}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    console.print(f"stream: {stats.records:,} records in {stats.batches} micro-batch(es), "
                  f"{stats.events_per_second:,.0f} events/s; end-to-end latency ms {summary['latency_ms']}")


def print_spark_stream(result: SparkStreamResult, as_json: bool) -> int:
    """The exit code: 1 when the lake does not reconcile."""
    rec = result.reconciliation
    facts = {"epochs": result.epochs, "bronze_batches": result.bronze_batches, "records": result.records,
             "skipped_files": result.skipped_files, "seconds": round(result.seconds, 2),
             "events_per_second": round(result.events_per_second), "reconciles": bool(rec and rec.balanced)}
    if as_json:
        click.echo(json.dumps(facts))
    else:
        console.print(facts)
    return 1 if rec is not None and not rec.balanced else 0


def print_supervised(supervisor: Supervisor) -> None:
    for outcome in supervisor.outcomes:
        console.print(f"{outcome.name}: {outcome.status} after {outcome.attempts} attempt(s), "
                      f"{outcome.seconds:.1f} s {outcome.detail}", highlight=False)
    if supervisor.failure is not None:
        click.secho(f"salesflow: {supervisor.failure}", err=True, fg="red")
