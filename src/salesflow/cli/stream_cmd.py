"""``salesflow stream``: signals, the embedded broker, and the closing statistics."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import click
from rich.console import Console

from salesflow.config import Settings
from salesflow.lake.storage import open_lake
from salesflow.pipeline.stream import StreamStats, run_stream
from salesflow.sources.broker import embedded_broker
from salesflow.sources.kafka import ensure_topic


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


def run(console: Console, settings: Settings, source: str, available_now: bool, embedded: bool,
        as_json: bool, metrics_port: int | None = None) -> None:
    stats = StreamStats()
    with contextlib.ExitStack() as stack:
        if metrics_port is not None:
            from salesflow.ops.metrics import CachedMetrics, metrics_server, stream_metrics

            cached = CachedMetrics(open_lake(settings), lambda: stream_metrics(stats))
            port = stack.enter_context(metrics_server("127.0.0.1", metrics_port, cached))
            console.print(f"metrics on http://127.0.0.1:{port}/metrics", highlight=False)
        if embedded:
            address = stack.enter_context(embedded_broker())
            settings.kafka.bootstrap_servers = address
            ensure_topic(settings.kafka)
            console.print(f"embedded Kafka-protocol broker on {address}, topic {settings.kafka.topic}")
        stop = stack.enter_context(graceful_stop())
        run_stream(settings, source, available_now=available_now, stop=stop, stats=stats)
    summary = stats.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        latency = summary["latency_ms"]
        console.print(f"stream: {stats.records:,} records in {stats.batches} micro-batch(es), "
                      f"{stats.events_per_second:,.0f} events/s; end-to-end latency ms {latency}")
