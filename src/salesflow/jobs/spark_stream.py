"""``salesflow spark stream``: the pipeline as a Spark Structured Streaming job.

Spark owns the source side - which landing files (or Kafka offsets) each micro-batch holds,
tracked in its checkpoint - and ``foreachBatch`` hands every micro-batch to the same steps the
embedded runner uses: the Bronze model and commit, Silver with its quality gates, Gold, all run
as SQL models on the Spark engine adapter and committed with Delta application transactions.

Exactly once, whatever Spark replays:
- landing files: a file already in Bronze (by name) is skipped under the Bronze writer lock, and
  the commit uses the landing source's application id, so ``salesflow batch`` and this job can
  take turns on one landing log;
- Kafka: the commit carries the transaction (``salesflow.bronze.spark-kafka``, epoch id); a
  replayed epoch finds its version committed and writes nothing.
Silver and Gold then process whatever Bronze batches they have not committed, which makes a
replayed epoch after a crash finish the work the crash interrupted.

Event-time lateness is the Silver models' watermark (shared with DuckDB); Spark's own
``withWatermark`` bounds state of streaming aggregations, and this job keeps none.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from salesflow.bronze.landing_ingest import APP_ID as LANDING_APP_ID
from salesflow.bronze.landing_tasks import keep_landing_records
from salesflow.bronze.lock import bronze_lock
from salesflow.bronze.oversized import payload_limit
from salesflow.bronze.rows import (
    append_bronze,
    bronze_input,
    files_in_bronze,
    next_bronze_batch,
    write_bronze,
)
from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.engine.spark import SparkEngine
from salesflow.errors import ConfigError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.ops import lineage
from salesflow.pipeline.reconcile import Reconciliation, reconcile_finished
from salesflow.pipeline.runner import BatchRun, Runner
from salesflow.silver.reference import load_reference
from salesflow.sources.landing import SEGMENT_SUFFIX, Segment

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)
KAFKA_APP_ID = "salesflow.bronze.spark-kafka"


@dataclass
class SparkStreamResult:
    epochs: int = 0
    bronze_batches: list[int] = field(default_factory=list)
    records: int = 0
    skipped_files: int = 0
    seconds: float = 0.0
    run: BatchRun | None = None
    reconciliation: Reconciliation | None = None

    @property
    def events_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@lineage.traced("spark_stream", (lineage.LANDING,), lineage.PIPELINE)
def run_spark_stream(ctx: RunContext | Settings, *, source: str = "landing", available_now: bool = True,
                     timeout_seconds: float | None = None) -> SparkStreamResult:
    """Run the streaming query until the source is drained (available-now) or ``timeout``."""
    ctx = as_context(ctx)
    settings, lake = ctx.settings, ctx.lake
    engine = SparkEngine(settings.spark, lake=settings.lake)
    result, clock = SparkStreamResult(), time.perf_counter()
    try:
        runner = Runner(ctx, engine, None)  # Bronze is written by the job's foreachBatch
        result.run = BatchRun(run_id=runner.run_id)
        load_reference(lake, runner.landing)
        runner.downstream(result.run)  # finish what a stopped run left between layers
        job = _Job(settings, lake, runner, result, source)
        frame = _kafka_frame(engine, settings) if source == "kafka" else _landing_frame(engine, settings)
        writer = (frame.writeStream.queryName(f"salesflow-{source}").foreachBatch(job.each)
                  .option("checkpointLocation", str(_checkpoint(settings, source))))
        writer = writer.trigger(availableNow=True) if available_now else \
            writer.trigger(processingTime=f"{settings.stream.trigger_seconds} seconds")
        query = writer.start()
        query.awaitTermination(None if timeout_seconds is None else int(timeout_seconds))
        if query.isActive:
            query.stop()
        if query.exception() is not None:
            raise job.error or RuntimeError(str(query.exception()))
    finally:
        engine.close()
    result.seconds = time.perf_counter() - clock
    result.reconciliation = reconcile_finished(lake)
    log.info("spark stream: %d epoch(s), %d records in %.1f s (%.0f records/s); lake reconciles: %s",
             result.epochs, result.records, result.seconds, result.events_per_second,
             result.reconciliation.balanced)
    return result


class _Job:
    """The foreachBatch body: Bronze for one micro-batch, then Silver and Gold for what is pending."""

    def __init__(self, settings: Settings, lake: Lake, runner: Runner, result: SparkStreamResult,
                 source: str) -> None:
        self.settings, self.lake, self.runner, self.result, self.source = settings, lake, runner, result, source
        self.error: BaseException | None = None

    def each(self, frame: DataFrame, epoch_id: int) -> None:
        try:
            clock = time.perf_counter()
            batch_id = self._bronze_landing(frame) if self.source == "landing" else \
                self._bronze_kafka(frame.toArrow(), epoch_id)  # Kafka messages through the driver: #25
            assert self.result.run is not None  # noqa: S101 - type narrowing
            self.runner.downstream(self.result.run)
            self.result.epochs += 1
            if batch_id is not None:
                self.result.bronze_batches.append(batch_id)
            seconds = time.perf_counter() - clock
            log.info("spark epoch %d: bronze batch %s, %d records in %.2f s", epoch_id, batch_id,
                     self.result.records, seconds)
        except BaseException as exc:  # Spark reports a Py4J wrapper; keep the real error for the caller
            self.error = exc
            raise

    def _bronze_landing(self, frame: DataFrame) -> int | None:
        """The micro-batch's landing files into Bronze: the driver plans from one row per file
        (name, line count, publish time); the executors split the files and build the records."""
        listing = frame.select("path", "modificationTime").toArrow()  # one row per file
        with bronze_lock(self.settings.checkpoint_dir):
            paths = listing["path"].to_pylist()
            names = [PurePath(p).name for p in paths]
            done = files_in_bronze(self.lake, names)
            pending = [i for i in sorted(range(len(names)), key=lambda i: names[i]) if names[i] not in done]
            self.result.skipped_files += len(names) - len(pending)
            if not pending:
                return None
            batch_id = next_bronze_batch(self.lake, after=self.lake.txn_version(BRONZE_EVENTS, LANDING_APP_ID))
            files = []
            for i in pending:  # the landing runner's order and numbering
                segment = Segment(self.settings.landing_dir / names[i])
                # The file's own mtime in microseconds, as the embedded runner reads it; Hadoop's
                # listing (modificationTime) keeps milliseconds only.
                produced = int(segment.path.stat().st_mtime * 1_000_000) if segment.path.exists() \
                    else listing["modificationTime"][i].value
                files.append((paths[i], int(produced)))
            records = keep_landing_records(self.runner.engine, files, batch_id, payload_limit(self.settings))
            append_bronze(self.lake, self.runner.engine, None, LANDING_APP_ID, batch_id,
                          {"salesflow.source": "landing", "salesflow.runner": "spark"})
        self.result.records += records
        return batch_id

    def _bronze_kafka(self, messages: pa.Table, epoch_id: int) -> int | None:
        if messages.num_rows == 0 or self.lake.txn_version(BRONZE_EVENTS, KAFKA_APP_ID) >= epoch_id:
            return None  # nothing new, or a replay of an epoch already committed
        with bronze_lock(self.settings.checkpoint_dir):
            batch_id = next_bronze_batch(self.lake)
            n = messages.num_rows
            positions = [
                f"{t}:{p}:{o}"
                for t, p, o in zip(
                    messages["topic"].to_pylist(),
                    messages["partition"].to_pylist(),
                    messages["offset"].to_pylist(),
                    strict=True,
                )
            ]
            records = bronze_input([v or b"" for v in messages["value"].to_pylist()], "kafka", messages["topic"],
                                   pa.array(positions, pa.string()), 0, batch_id, messages["timestamp"])
            write_bronze(self.lake, self.runner.engine, records, KAFKA_APP_ID, batch_id,
                         {"salesflow.source": "kafka", "salesflow.runner": "spark",
                          "salesflow.spark_epoch": str(epoch_id)}, payload_limit(self.settings), txn_version=epoch_id)
        self.result.records += n
        return batch_id


def _landing_frame(engine: SparkEngine, settings: Settings) -> DataFrame:
    """New landing segments as whole files: Bronze rows are built exactly as the embedded runner
    builds them (line positions, UTF-8 check), so both runners give the same Bronze."""
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    return (engine.spark.readStream.format("binaryFile")
            .option("pathGlobFilter", f"*{SEGMENT_SUFFIX}")
            .option("maxFilesPerTrigger", settings.spark.max_files_per_trigger)
            .schema("path STRING, modificationTime TIMESTAMP, length BIGINT, content BINARY")
            .load(str(settings.landing_dir)))


def _kafka_frame(engine: SparkEngine, settings: Settings) -> DataFrame:
    kafka = settings.kafka
    options: dict[str, Any] = {
        "kafka.bootstrap.servers": kafka.bootstrap_servers, "subscribe": kafka.topic,
        "startingOffsets": "earliest", "maxOffsetsPerTrigger": kafka.max_batch_records,
        "kafka.security.protocol": kafka.security_protocol,
        **{f"kafka.{k}": v for k, v in kafka.extra.items()},
    }
    if kafka.sasl_mechanism:
        options["kafka.sasl.mechanism"] = kafka.sasl_mechanism
    if kafka.sasl_username and kafka.sasl_password:
        user, secret = kafka.sasl_username, kafka.sasl_password.get_secret_value()
        options["kafka.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{secret}";')
    try:
        return engine.spark.readStream.format("kafka").options(**options).load()
    except Exception as exc:  # AnalysisException: the Kafka source jar is not on the classpath
        if "kafka" in str(exc).lower() and "data source" in str(exc).lower():
            raise ConfigError(
                "spark stream --source kafka needs Spark's Kafka source on the classpath: add "
                "org.apache.spark:spark-sql-kafka-0-10_2.13:<your Spark version> to spark.packages "
                "(or spark-submit --packages)") from None
        raise


def _checkpoint(settings: Settings, source: str) -> str:
    root = settings.spark.checkpoint_dir or str(settings.checkpoint_dir / "spark")
    return f"{root.rstrip('/')}/{source}"

