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
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from salesflow.bronze.landing_ingest import APP_ID as LANDING_APP_ID
from salesflow.bronze.landing_tasks import keep_landing_records, received
from salesflow.bronze.lock import bronze_lock
from salesflow.bronze.oversized import PayloadLimit, by_reference, payload_limit
from salesflow.bronze.rows import (
    RECEIVED,
    append_bronze,
    bronze_input,
    engine_bronze_rows,
    files_in_bronze,
    next_bronze_batch,
)
from salesflow.common.lines import file_name
from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.engine.spark import SparkEngine, spark_schema
from salesflow.engine.spark_lines import listed_uri
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
                self._bronze_kafka(frame, epoch_id)
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
            paths = [listed_uri(p) for p in listing["path"].to_pylist()]
            names = [file_name(p) for p in paths]
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

    def _bronze_kafka(self, frame: DataFrame, epoch_id: int) -> int | None:
        """A Kafka micro-batch into Bronze, its records built on the executors (the driver sees one
        row per Kafka partition to number them); committed as (KAFKA_APP_ID, epoch)."""
        if self.lake.txn_version(BRONZE_EVENTS, KAFKA_APP_ID) >= epoch_id:
            return None  # a replay of an epoch already committed
        engine = self.runner.engine
        assert isinstance(engine, SparkEngine)  # noqa: S101 - type narrowing
        with bronze_lock(self.settings.checkpoint_dir):
            batch_id = next_bronze_batch(self.lake)
            n = kafka_records(engine, frame, batch_id, payload_limit(self.settings))
            if n == 0:
                return None
            engine_bronze_rows(engine, RECEIVED.names, n)
            append_bronze(self.lake, engine, None, KAFKA_APP_ID, batch_id,
                          {"salesflow.source": "kafka", "salesflow.runner": "spark",
                           "salesflow.spark_epoch": str(epoch_id)}, txn_version=epoch_id)
        self.result.records += n
        return batch_id


def kafka_records(engine: SparkEngine, messages: DataFrame, batch_id: int, limit: PayloadLimit) -> int:
    """Relation ``landing_records`` from a micro-batch of Kafka's source (topic, partition, offset,
    value, timestamp), built on the executors with the lineage this job has always written
    (``topic:partition:offset``); the record sequence runs over partitions in order and over
    offsets within each. Returns the count. The micro-batch is read from the broker once: it is
    cached for the count and the records, and let go once the records are kept."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling

    messages = messages.persist()
    try:
        counts = messages.groupBy("topic", "partition").count().toArrow()  # one row per Kafka partition
        first, total = [], 0
        for row in sorted(counts.to_pylist(), key=lambda r: (r["topic"], r["partition"])):
            first += [F.lit(f"{row['topic']}:{row['partition']}"), F.lit(total)]
            total += row["count"]
        if total:
            within = Window.partitionBy("topic", "partition").orderBy("offset")
            numbered = messages.select(
                F.coalesce("value", F.lit(b"")).alias("value"), "topic", "partition", "offset", "timestamp",
                (F.create_map(*first)[F.concat_ws(":", "topic", F.col("partition").cast("string"))]
                 + F.row_number().over(within) - 1).alias("seq"))
            engine.keep("landing_records", numbered.mapInArrow(partial(message_records, batch_id, limit),
                                                               spark_schema(RECEIVED)))
        return total
    finally:
        messages.unpersist()


def message_records(batch_id: int, limit: PayloadLimit, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """On an executor: Bronze input records of Kafka messages numbered by ``seq``."""
    for batch in batches:
        positions = pc.binary_join_element_wise(batch["topic"], pc.cast(batch["partition"], pa.string()),
                                                pc.cast(batch["offset"], pa.string()), ":")
        records = bronze_input(batch["value"], "kafka", batch["topic"], positions, 0, batch_id, batch["timestamp"])
        records = records.set_column(records.schema.get_field_index("record_seq"), "record_seq", batch["seq"])
        yield from received(by_reference(records, limit)).to_batches()


def _landing_frame(engine: SparkEngine, settings: Settings) -> DataFrame:
    """New landing segments as whole files: Bronze rows are built exactly as the embedded runner
    builds them (line positions, UTF-8 check), so both runners give the same Bronze."""
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    files = settings.spark.max_files_per_trigger
    batch_bytes = settings.pipeline.batch_bytes(in_process=engine.KEEPS_RESULTS_IN_PROCESS)
    # Spark takes one of the two options, never both
    limit = ("maxFilesPerTrigger", files) if files is not None else ("maxBytesPerTrigger", batch_bytes)
    return (engine.spark.readStream.format("binaryFile")
            .option("pathGlobFilter", f"*{SEGMENT_SUFFIX}")
            .option(*limit)
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

