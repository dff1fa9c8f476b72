"""``salesflow stream``: micro-batches from the landing log or Kafka through Bronze, Silver and Gold.

Each micro-batch is one Bronze batch followed by its Silver and Gold commits, all idempotent
(Delta application transactions), so a stop at any point - a signal, a crash, SIGKILL - is
followed by a restart that neither loses nor repeats a record. ``available_now`` processes what
the source holds when the run starts, then returns.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime

import pyarrow.compute as pc

from salesflow.bronze.kafka_ingest import KafkaIngestor, OffsetCheckpoint
from salesflow.bronze.oversized import payload_limit
from salesflow.bronze.rows import BronzeBatch
from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.engine.base import EngineAdapter
from salesflow.errors import TransientError
from salesflow.lake.delta import Lake
from salesflow.lake.maintenance import maintain
from salesflow.lake.storage import LakeUnavailableError
from salesflow.lake.tables import ALL_TABLES, TableSpec
from salesflow.ops import lineage
from salesflow.pipeline.reconcile import reconcile_finished
from salesflow.pipeline.runner import BatchRun, Runner, landing_source, run_record
from salesflow.pipeline.runs import record_run
from salesflow.pipeline.stats import StreamStats
from salesflow.silver.reference import load_reference
from salesflow.sources.kafka import KafkaReader

log = logging.getLogger(__name__)
LAG_EVERY_SECONDS = 5.0
"""How often a busy stream asks the broker for its consumer lag (a gauge)."""


@lineage.traced("stream", (lineage.LANDING,), lineage.PIPELINE)
def run_stream(ctx: RunContext | Settings, source: str, *, available_now: bool,
               stop: threading.Event | None = None, caught_up: threading.Event | None = None,
               stats: StreamStats | None = None) -> StreamStats:
    """``caught_up`` is set the first time the source has nothing new (the backlog is processed);
    ``stats`` lets a supervisor read the numbers while the stream runs."""
    ctx = as_context(ctx)
    settings, lake = ctx.settings, ctx.lake
    stop = stop or threading.Event()
    stats, clock = stats or StreamStats(), time.perf_counter()
    with ctx.engine() as engine:
        reader, bronze = _kafka_source(settings, lake, engine, available_now) if source == "kafka" else \
            (None, landing_source(settings, lake, engine))
        runner = Runner(ctx, engine, bronze)
        sink = None
        if settings.live.sink == "redis":
            from salesflow.gold.live_sink import RedisLiveSink

            sink = RedisLiveSink(settings)
        stretch = _Stretch(runner.run_id, settings)
        try:
            outage = _Backoff(settings)
            while not stop.is_set():  # the catch-up retries like any micro-batch (a commit conflict, an outage)
                try:
                    load_reference(lake, runner.landing)
                    runner.downstream(stretch.result)  # finish whatever a stopped run left between layers
                    break
                except TransientError as exc:
                    outage.wait(exc, stop)
            outage.reset()
            housekeeping = _Housekeeping(lake, settings, stats)
            lag_asked = [float("-inf")]

            def tend() -> None:
                """After each micro-batch and when idle: a busy source never goes idle, so nothing may wait for it."""
                stretch.record_if_due(lake)
                if reader is not None and isinstance(bronze, KafkaIngestor) and \
                        time.monotonic() - lag_asked[0] >= LAG_EVERY_SECONDS:  # a broker round trip a partition
                    stats.consumer_lag = reader.lag(dict(bronze.checkpoint.offsets))  # the worker moves them
                    lag_asked[0] = time.monotonic()
                housekeeping.step()

            def between() -> None:
                if sink is not None:
                    sink.publish(lake)
                tend()

            while not stop.is_set():
                try:  # every step is idempotent: after a transient failure, wait and redo it
                    did_work = _micro_batches(runner, stretch.result, stats, stop, between)
                    if not did_work:
                        tend()  # the lag gauge too: it drops to 0 once the backlog is read
                        if caught_up is not None:
                            caught_up.set()
                        if available_now:
                            break
                        stop.wait(settings.stream.trigger_seconds)
                        load_reference(lake, runner.landing)
                except TransientError as exc:
                    outage.wait(exc, stop)
                    continue
                outage.reset()
            stretch.record(lake)
        finally:
            if reader is not None:
                reader.close()
    stats.seconds += time.perf_counter() - clock
    rec = reconcile_finished(lake)
    log.info("stream stopped: %s; lake reconciles: %s", stats.summary(), rec.balanced)
    return stats


class _Stretch:
    """The stream's run log: one ``ops.pipeline_runs`` row per stretch of work (every
    ``stream.record_run_seconds``, and the rest at the stop), so a dashboard sees the stream's
    numbers while it runs, and memory does not grow with the batches of a long run."""

    def __init__(self, run_id: str, settings: Settings) -> None:
        self.run_id, self.engine, self.every = run_id, settings.engine.name, settings.stream.record_run_seconds
        self._start()

    def _start(self) -> None:
        self.result, self.started, self.clock = BatchRun(run_id=self.run_id), datetime.now(UTC), time.monotonic()

    def record_if_due(self, lake: Lake) -> None:
        if time.monotonic() - self.clock >= self.every:
            self.record(lake)

    def record(self, lake: Lake) -> None:
        if not self.result.silver:
            return
        self.result.bronze_rows = self.result.total("bronze_rows")
        self.result.reconciliation = reconcile_finished(lake)
        record_run(lake, run_record(self.result, self.started, self.engine, "stream"))
        log.info("stream stretch recorded: batches %d-%d, %d bronze rows", min(self.result.batches),
                 max(self.result.batches), self.result.bronze_rows)
        self._start()


class _Housekeeping:
    """Compaction, log checkpoints and vacuum between micro-batches, one table per micro-batch:
    every ``stream.maintenance_every_batches`` a round over all the tables starts. Maintaining the
    seventeen tables at once stalled the stream for over a second, and every event waiting behind
    the stall took that second into its freshness."""

    def __init__(self, lake: Lake, settings: Settings, stats: StreamStats) -> None:
        self.lake, self.settings, self.stats = lake, settings, stats
        self.round: list[TableSpec] = []

    def step(self) -> None:
        if not self.round and self.stats.batches - self.stats.maintained_at >= \
                self.settings.stream.maintenance_every_batches:
            self.round, self.stats.maintained_at = list(ALL_TABLES), self.stats.batches
        if self.round:
            spec = self.round[0]
            try:  # an object store that fails it: the same table is retried after the next micro-batch
                maintain(self.lake, self.settings.stream.vacuum_retention_hours, tables=(spec,))
            except OSError as exc:
                raise LakeUnavailableError(f"maintenance could not reach the lake: {exc}") from exc
            self.round.pop(0)


class _Backoff:
    """Exponential backoff with full jitter across consecutive transient failures; gives up (re-raises)
    once they have lasted ``stream.retry_max_seconds``."""

    def __init__(self, settings: Settings) -> None:
        self.first, self.cap = settings.stream.retry_backoff_seconds, settings.stream.retry_max_seconds
        self.failing_since: float | None = None
        self.attempt = 0

    def wait(self, exc: TransientError, stop: threading.Event) -> None:
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        if now - self.failing_since > self.cap:
            raise exc
        delay = random.uniform(0, min(30.0, self.first * 2 ** self.attempt))  # noqa: S311 - not for security: jitter and simulated data
        self.attempt += 1
        log.warning("micro-batch failed (%s); retry %d in %.1f s", exc, self.attempt, delay)
        stop.wait(delay)

    def reset(self) -> None:
        self.failing_since, self.attempt = None, 0


def _kafka_source(settings: Settings, lake: Lake, engine: EngineAdapter,
                  available_now: bool) -> tuple[KafkaReader, KafkaIngestor]:
    reader = KafkaReader(settings.kafka, stop_at_end=available_now)
    checkpoint = OffsetCheckpoint.load(settings.checkpoint_dir / f"kafka-{settings.kafka.topic}.json")
    return reader, KafkaIngestor(lake, engine, reader, checkpoint, settings.kafka.max_batch_records,
                                 payload_limit(settings))


def _micro_batches(runner: Runner, result: BatchRun, stats: StreamStats, stop: threading.Event,
                   between: Callable[[], None] = lambda: None) -> bool:
    did_work = False
    assert runner.bronze is not None  # noqa: S101 - type narrowing: a stream always has its source
    batches = runner.bronze.batches()
    try:
        for bronze in batches:
            runner.downstream(result, handover=bronze)
            _measure(stats, bronze)
            did_work = True
            if stop.is_set():  # finish the micro-batch in hand, then stop cleanly
                break
            between()
    finally:
        if isinstance(batches, Generator):  # settles the source's step in flight now, not when collected
            batches.close()
    if stop.is_set() and did_work:  # the source's step ahead may have committed one more to Bronze
        runner.downstream(result)
    return did_work


def _measure(stats: StreamStats, bronze: BronzeBatch) -> None:
    stats.batches += 1
    stats.records += bronze.rows
    if bronze.table is None or bronze.rows == 0:
        return
    visible_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    produced = pc.drop_null(bronze.table["produced_at"])
    step = max(1, len(produced) // 2000)  # a sample keeps time and memory flat on long runs
    sample = produced.take(list(range(0, len(produced), step))).cast("int64")
    stats.latencies_ms.extend((visible_us - us) / 1000 for us in sample.to_pylist())
    log.info("micro-batch %d: %d records, p99 latency so far %.0f ms", bronze.batch_id, bronze.rows,
             stats.percentile(0.99) or 0.0)


def serve_stream(ctx: RunContext | Settings, source: str, *, available_now: bool, stop: threading.Event,
                 embedded: bool = False, metrics_port: int | None = None,
                 announce: Callable[[str], None] = lambda line: None) -> StreamStats:
    """``salesflow stream``: the stream with what the command may start beside it, a Prometheus
    endpoint and an embedded Kafka-protocol broker; ``announce`` receives where they listen."""
    ctx = as_context(ctx)
    stats = StreamStats()
    with contextlib.ExitStack() as stack:
        if metrics_port is not None:
            from salesflow.ops.metrics import CachedMetrics, metrics_server, stream_metrics

            cached = CachedMetrics(ctx.lake, lambda: stream_metrics(stats))
            port = stack.enter_context(metrics_server("127.0.0.1", metrics_port, cached))
            announce(f"metrics on http://127.0.0.1:{port}/metrics")
        if embedded:
            from salesflow.sources.broker import embedded_broker
            from salesflow.sources.kafka import ensure_topic

            address = stack.enter_context(embedded_broker())
            kafka = ctx.settings.kafka.model_copy(update={"bootstrap_servers": address})
            ctx = ctx.with_settings(ctx.settings.model_copy(update={"kafka": kafka}))
            ensure_topic(kafka)
            announce(f"embedded Kafka-protocol broker on {address}, topic {kafka.topic}")
        return run_stream(ctx, source, available_now=available_now, stop=stop, stats=stats)
