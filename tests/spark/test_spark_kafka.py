"""``spark stream --source kafka``: a micro-batch of Kafka's source becomes Bronze on the executors.

Spark's Kafka source jar cannot be downloaded here, so the micro-batch is a real Spark DataFrame
in the Kafka source's own schema, handed to the job's ``foreachBatch`` body: what the source would
hand it. The Bronze rows must be what ``bronze_input`` makes of the same messages numbered over
partitions in order, then offsets, with this job's ``topic:partition:offset`` lineage, and a
replayed epoch must write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from salesflow.bronze.oversized import by_reference, payload_limit
from salesflow.bronze.rows import bronze_input
from salesflow.context import as_context
from salesflow.engine.spark import SparkEngine
from salesflow.jobs.spark_stream import KAFKA_APP_ID, SparkStreamResult, _Job
from salesflow.lake.tables import BRONZE_EVENTS, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_finished
from salesflow.pipeline.runner import BatchRun, Runner
from salesflow.simulator import SimulationSpec
from tests.conftest import land, noisy
from tests.spark.conftest import engine_settings

KAFKA_SCHEMA = ("key binary, value binary, topic string, partition int, offset long, timestamp timestamp, "
                "timestampType int")
SPEC = SimulationSpec(events=1_200, seed=31, days=2, defects=noisy())
START = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.fixture
def job(tmp_path: Path, spark_session: object) -> Iterator[_Job]:
    settings = engine_settings(tmp_path, "spark")
    ctx = as_context(settings)
    engine = SparkEngine(settings.spark, session=spark_session)  # type: ignore[arg-type]
    runner = Runner(ctx, engine, None)
    yield _Job(settings, ctx.lake, runner, SparkStreamResult(run=BatchRun(run_id=runner.run_id)), "kafka")
    engine.close()


def _messages(job: _Job) -> list[tuple[object, ...]]:
    lines = [r.line for r in land(job.settings, SPEC)]
    lines[5], lines[6] = b"\xff\xfe not utf-8", None  # type: ignore[call-overload]
    # Two partitions, offsets out of order within each and not starting at zero (a later epoch).
    rows = [(None, line, "sales", i % 2, 1_000 + i // 2, START + timedelta(seconds=i), 0)
            for i, line in enumerate(lines)]
    return list(reversed(rows))


def test_a_kafka_micro_batch_is_built_on_the_executors(job: _Job, spark_session: object) -> None:
    rows = _messages(job)
    frame = spark_session.createDataFrame(rows, KAFKA_SCHEMA)  # type: ignore[attr-defined]
    job.each(frame, 0)
    bronze = job.lake.read(BRONZE_EVENTS)
    assert bronze is not None and bronze.num_rows == len(rows) == job.result.records
    expected_order = sorted(rows, key=lambda r: (r[2], r[3], r[4]))  # type: ignore[arg-type]
    expected = bronze_input([r[1] or b"" for r in expected_order], "kafka",  # type: ignore[misc]
                            pa.array([r[2] for r in expected_order]),
                            pa.array([f"{r[2]}:{r[3]}:{r[4]}" for r in expected_order]), 0, 0,
                            pa.array([r[5] for r in expected_order], pa.timestamp("us", "UTC")))
    expected = by_reference(expected.append_column("ingest_error", pa.nulls(len(rows), pa.string())),
                            payload_limit(job.settings))  # the simulator's oversized payloads
    got = bronze.sort_by("record_seq")
    for column in ("payload", "valid_utf8", "source", "source_file", "source_position", "record_seq", "produced_at",
                   "ingest_error"):
        assert got[column].to_pylist() == expected[column].to_pylist(), column
    assert job.lake.txn_version(BRONZE_EVENTS, KAFKA_APP_ID) == 0
    assert reconcile_finished(job.lake).balanced
    orders = job.lake.read(SILVER_ORDERS)
    assert orders is not None and orders.num_rows > 0

    versions = job.lake.version(BRONZE_EVENTS)
    job.each(frame, 0)  # Spark replays the epoch after a crash
    assert job.lake.version(BRONZE_EVENTS) == versions and job.result.records == len(rows)


def test_an_empty_micro_batch_writes_nothing(job: _Job, spark_session: object) -> None:
    job.each(spark_session.createDataFrame([], KAFKA_SCHEMA), 0)  # type: ignore[attr-defined]
    assert job.lake.version(BRONZE_EVENTS) is None and job.result.records == 0
