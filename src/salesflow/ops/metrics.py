"""``/metrics`` of ``salesflow run`` in the Prometheus text format.

Lake-wide numbers (events per layer, quarantine by reason, quality failures, table versions and
rows, freshness, the event-time watermark per source) are read from the Delta tables, cached for
``CACHE_SECONDS`` so a scrape storm cannot turn into a read storm. The stream's own numbers
(micro-batches, records, last batch duration, latency quantiles) and the steps' outcomes come
from the running process.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.compute as pc

from salesflow.common.prometheus import MetricsText
from salesflow.gold.status import table_status
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    GOLD_SALES_BY_WINDOW,
    QUALITY_RESULTS,
    QUARANTINE,
    SILVER_EVENT_TABLES,
)
from salesflow.pipeline.reconcile import reconcile_finished
from salesflow.pipeline.stats import StreamStats
from salesflow.redact import redact

CACHE_SECONDS = 10.0


def lake_metrics(lake: Lake) -> str:
    out = MetricsText()
    rec = reconcile_finished(lake)
    out.family(
        "salesflow_layer_records",
        "gauge",
        "Records per layer, batches through Silver (bronze = silver + quarantined + duplicates).",
        [
            ({"layer": "bronze"}, rec.bronze),
            ({"layer": "silver"}, rec.silver_events),
            ({"layer": "quarantine"}, rec.quarantined),
            ({"layer": "duplicates"}, rec.duplicates),
        ],
    )
    out.family("salesflow_lake_balanced", "gauge", "1 when the lake reconciles.", [({}, int(rec.balanced))])
    reasons = lake.read(QUARANTINE, columns=["reason"])
    counts = Counter(reasons["reason"].to_pylist()) if reasons is not None else Counter()
    out.family("salesflow_quarantined_records", "gauge", "Quarantined records by reason.",
               [({"reason": r}, n) for r, n in sorted(counts.items())])
    results = lake.read(QUALITY_RESULTS, columns=["layer", "action", "passed"])
    failed: Counter[tuple[str, str]] = Counter()
    if results is not None:
        for layer, action, passed in zip(*(results[c].to_pylist() for c in ("layer", "action", "passed")), strict=True):
            if not passed:
                failed[(layer, action)] += 1
    out.family("salesflow_quality_failures_total", "counter", "Failed expectation checks by layer and action.",
               [({"layer": layer, "action": action}, n) for (layer, action), n in sorted(failed.items())])
    status = table_status(lake)
    out.family("salesflow_table_rows", "gauge", "Rows per Delta table.", [({"table": s.table}, s.rows) for s in status])
    out.family("salesflow_table_version", "gauge", "Delta version per table.",
               [({"table": s.table}, s.version) for s in status if s.version is not None])
    out.family("salesflow_table_files", "gauge", "Data files per Delta table.",
               [({"table": s.table}, s.files) for s in status])
    now = datetime.now(UTC).timestamp()
    gold = lake.read(GOLD_SALES_BY_WINDOW, columns=["updated_at"])
    if gold is not None and gold.num_rows:
        newest = pc.max(gold["updated_at"]).as_py()
        out.family("salesflow_gold_freshness_seconds", "gauge", "Seconds since a gold window was last updated.",
                   [({}, round(now - newest.timestamp(), 3))])
    out.family(
        "salesflow_watermark_timestamp_seconds",
        "gauge",
        "Newest event time accepted into Silver, per source (Unix time).",
        [({"source": s}, round(t, 3)) for s, t in sorted(_watermarks(lake).items())],
    )
    return out.render()


def _watermarks(lake: Lake) -> dict[str, float]:
    newest: dict[str, float] = {}
    for spec in SILVER_EVENT_TABLES:
        table = lake.read(spec, columns=["source", "event_time"])
        if table is None or table.num_rows == 0:
            continue
        grouped = table.group_by("source").aggregate([("event_time", "max")])
        for source, value in zip(grouped["source"].to_pylist(), grouped["event_time_max"].to_pylist(), strict=True):
            newest[source] = max(newest.get(source, 0.0), value.timestamp())
    return newest


class CachedMetrics:
    def __init__(self, lake: Lake, process: Callable[[], str]) -> None:
        self.lake, self.process = lake, process
        self.lock = threading.Lock()
        self.stamp, self.text = 0.0, ""

    def render(self) -> str:
        with self.lock:
            if time.monotonic() - self.stamp > CACHE_SECONDS:
                self.text = lake_metrics(self.lake)
                self.stamp = time.monotonic()
            return self.text + self.process()


@contextmanager
def metrics_server(host: str, port: int, metrics: CachedMetrics) -> Iterator[int]:
    """Serve ``GET /metrics`` in a daemon thread; yields the bound port (``port=0`` picks one)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = redact(metrics.render()).encode()  # labels may carry step details and errors
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()



def stream_metrics(stats: StreamStats) -> str:
    out = MetricsText()
    out.family("salesflow_stream_micro_batches_total", "counter", "Micro-batches through all layers.",
               [({}, stats.batches)])
    out.family("salesflow_stream_records_total", "counter", "Records through all layers.", [({}, stats.records)])
    out.family("salesflow_stream_latency_seconds", "gauge", "End-to-end latency, produced -> visible in gold.",
               [({"quantile": q}, round(v / 1000, 6)) for q in (0.5, 0.95, 0.99)
                if (v := stats.percentile(q)) is not None])
    if stats.batches:
        out.family("salesflow_stream_batch_duration_seconds", "gauge", "Mean wall time of a micro-batch.",
                   [({}, round(stats.seconds / stats.batches, 3))])
    out.family("salesflow_kafka_consumer_lag_messages", "gauge", "Kafka messages per partition not yet in Bronze.",
               [({"partition": p}, n) for p, n in sorted(stats.consumer_lag.items())])
    return out.render()
