"""``salesflow stream``: micro-batches from the landing log or Kafka through Bronze, Silver and Gold.

Each micro-batch is one Bronze batch followed by its Silver and Gold commits, all idempotent
(Delta application transactions), so a stop at any point - a signal, a crash, SIGKILL - is
followed by a restart that neither loses nor repeats a record. ``available_now`` processes what
the source holds when the run starts, then returns.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow.compute as pc

from salesflow.bronze.ingest import BronzeBatch, next_bronze_batch
from salesflow.bronze.kafka_ingest import KafkaBronzeIngestor, OffsetCheckpoint
from salesflow.config import Settings
from salesflow.engine import create_engine
from salesflow.errors import TransientError
from salesflow.lake.delta import Lake
from salesflow.lake.maintenance import maintain
from salesflow.lake.storage import LakeUnavailableError, open_lake
from salesflow.pipeline.batch import BatchRun, Runner
from salesflow.pipeline.reconcile import reconcile_finished
from salesflow.silver.reference import load_reference
from salesflow.sources.kafka import KafkaReader

log = logging.getLogger(__name__)
LATENCY_SAMPLES = 200_000


@dataclass
class StreamStats:
    batches: int = 0
    records: int = 0
    seconds: float = 0.0
    maintained_at: int = 0
    consumer_lag: dict[int, int] = field(default_factory=dict)
    """Kafka messages per partition not yet in Bronze, after the last micro-batch."""
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    """End to end per sampled record: produced (Kafka timestamp / segment write) -> visible in gold.
    Bounded: on a long run the percentiles describe the most recent samples."""

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def events_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, object]:
        return {"batches": self.batches, "records": self.records, "seconds": round(self.seconds, 2),
                "events_per_second": round(self.events_per_second),
                "latency_ms": {f"p{int(q * 100)}": self.percentile(q) for q in (0.5, 0.95, 0.99)}}


def run_stream(settings: Settings, source: str, *, available_now: bool,
               stop: threading.Event | None = None, caught_up: threading.Event | None = None,
               stats: StreamStats | None = None) -> StreamStats:
    """``caught_up`` is set the first time the source has nothing new (the backlog is processed);
    ``stats`` lets a supervisor read the numbers while the stream runs."""
    stop = stop or threading.Event()
    lake = open_lake(settings)
    stats, clock = stats or StreamStats(), time.perf_counter()
    with create_engine(settings) as engine:
        runner = Runner(settings, lake, engine, lambda stage, n: None)
        sink = None
        if settings.live.sink == "redis":
            from salesflow.gold.live_sink import RedisLiveSink

            sink = RedisLiveSink(settings)
        reader = _attach_kafka(runner, settings, lake, available_now) if source == "kafka" else None
        result = BatchRun(run_id=runner.run_id)
        try:
            load_reference(lake, runner.landing)
            runner.downstream(result)  # finish whatever a stopped run left between layers
            outage = _Backoff(settings)
            while not stop.is_set():
                try:  # every step is idempotent: after a transient failure, wait and redo it
                    did_work = _micro_batches(runner, result, stats, stop)
                    if did_work and sink is not None:
                        sink.publish(lake)
                    if reader is not None and isinstance(runner.bronze, KafkaBronzeIngestor):
                        stats.consumer_lag = reader.lag(runner.bronze.checkpoint.offsets)
                    if stats.batches - stats.maintained_at >= settings.stream.maintenance_every_batches:
                        _maintain(lake, settings)  # between micro-batches
                        stats.maintained_at = stats.batches
                    if not did_work:
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
        finally:
            if reader is not None:
                reader.close()
    stats.seconds += time.perf_counter() - clock
    rec = reconcile_finished(lake)
    log.info("stream stopped: %s; lake reconciles: %s", stats.summary(), rec.balanced)
    return stats


def _maintain(lake: Lake, settings: Settings) -> None:
    """Compaction is housekeeping: an object store that fails it is retried next round."""
    try:
        maintain(lake, settings.stream.vacuum_retention_hours)
    except OSError as exc:
        raise LakeUnavailableError(f"maintenance could not reach the lake: {exc}") from exc


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


def _attach_kafka(runner: Runner, settings: Settings, lake: Lake, available_now: bool) -> KafkaReader:
    reader = KafkaReader(settings.kafka, stop_at_end=available_now)
    checkpoint = OffsetCheckpoint.load(settings.checkpoint_dir / f"kafka-{settings.kafka.topic}.json")
    runner.bronze = KafkaBronzeIngestor(
        lake, runner.engine, reader, checkpoint, settings.kafka.max_batch_records,
        lambda: next_bronze_batch(lake, after=checkpoint.batch_id))
    return reader


def _micro_batches(runner: Runner, result: BatchRun, stats: StreamStats, stop: threading.Event) -> bool:
    did_work = False
    for bronze in runner.bronze.batches():
        runner.downstream(result, handover=bronze)
        _measure(stats, bronze)
        did_work = True
        if stop.is_set():  # finish the micro-batch in hand, then stop cleanly
            break
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
