"""The stream runner against a real Kafka-protocol broker: exactly once through every layer."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from salesflow.config import Settings, load_settings
from salesflow.jobs import reconcile_lake
from salesflow.jobs.stream import run_stream
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, GOLD_CATEGORY_REVENUE, QUARANTINE
from salesflow.simulator import SimRecord, SimulationSpec, build_catalog, simulate
from salesflow.simulator.output import write_reference
from salesflow.sources.kafka import ensure_topic, produce
from salesflow.sources.landing import LandingLog
from tests.conftest import noisy
from tests.pipeline.lakeview import fingerprint, rows
from tests.pipeline.truth import expected_from

SPEC = SimulationSpec(events=8_000, seed=41, days=3, defects=noisy(oversized=0.0))


def kafka_settings(tmp_path: Path, address: str, **kafka: object) -> Settings:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    return load_settings(data_dir=tmp_path / "d", kafka={"bootstrap_servers": address, "topic": topic,
                                                         "poll_timeout_seconds": 0.5, **kafka})


def publish(settings: Settings, spec: SimulationSpec = SPEC) -> list[SimRecord]:
    catalog = build_catalog(spec.seed)
    write_reference(LandingLog(settings.landing_dir), catalog)
    records = list(simulate(spec, catalog))
    ensure_topic(settings.kafka)
    produce(settings.kafka, ((None, r.line) for r in records))
    return records


def check_exactly_once(settings: Settings, records: list[SimRecord]) -> None:
    lake = Lake(settings.lake_root)
    bronze = lake.read(BRONZE_EVENTS, columns=["source_position"])
    assert bronze is not None and bronze.num_rows == len(records)
    assert len(set(bronze["source_position"].to_pylist())) == len(records)
    rec = reconcile_lake(lake)
    assert rec.balanced and rec.bronze == len(records)
    assert rec.duplicates == sum(r.expected == "duplicate" for r in records)
    truth = expected_from(records, build_catalog(SPEC.seed))
    gold = {(r["event_date"], r["category"]): r["revenue"] for r in rows(settings, GOLD_CATEGORY_REVENUE)}
    assert gold == dict(truth.revenue)


def test_available_now_reads_everything_once(tmp_path: Path, kafka_address: str) -> None:
    settings = kafka_settings(tmp_path, kafka_address, max_batch_records=2_500)
    records = publish(settings)
    stats = run_stream(settings, "kafka", available_now=True)
    assert stats.records == len(records) and stats.batches >= 3
    assert stats.percentile(0.99) is not None
    check_exactly_once(settings, records)
    before = fingerprint(settings)
    assert run_stream(settings, "kafka", available_now=True).records == 0
    (settings.checkpoint_dir / f"kafka-{settings.kafka.topic}.json").unlink()  # lose the checkpoint
    assert run_stream(settings, "kafka", available_now=True).records == 0
    assert fingerprint(settings) == before


def test_available_now_stops_at_the_end_of_the_partitions(tmp_path: Path, kafka_address: str) -> None:
    """--available-now stops when the consumer has reached the end of every partition: with an
    hour's idle_seconds it still returns, having read every message once."""
    import threading

    settings = kafka_settings(tmp_path, kafka_address, max_batch_records=3_000, idle_seconds=3600)
    records = publish(settings)
    done: list[int] = []
    runner = threading.Thread(target=lambda: done.append(run_stream(settings, "kafka", available_now=True).records),
                              daemon=True)
    runner.start()
    runner.join(timeout=300)
    assert done == [len(records)], "available-now waited for the topic to go idle instead of stopping at its end"
    check_exactly_once(settings, records)


def test_hostile_messages_never_stop_the_stream(tmp_path: Path, kafka_address: str) -> None:
    settings = kafka_settings(tmp_path, kafka_address)
    ensure_topic(settings.kafka)
    hostile = [b"", b"\x00\x01\x02\xff garbage", b"{\"event_type\": \"order_created\"", b"null", b"[]",
               b'{"event_type":"product_viewed","event_id":"a\\u0000b","event_time":5}',
               random.Random(1).randbytes(5_000),
               b'{"event_type":"product_viewed","notes":"' + b"x" * 10_000_000 + b'"}']  # 10 MB
    produce(settings.kafka, ((None, value) for value in hostile))
    stats = run_stream(settings, "kafka", available_now=True)
    assert stats.records == len(hostile)
    quarantine = rows(settings, QUARANTINE)
    assert len(quarantine) == len(hostile)
    assert all(q["source_position"].startswith(settings.kafka.topic) for q in quarantine)
    reasons = Counter(q["reason"] for q in quarantine)
    assert reasons == {"malformed_json": 4, "invalid_encoding": 2, "missing_field": 1, "payload_too_large": 1}


def _stream_process(settings: Settings, data: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SALESFLOW__KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "SALESFLOW__KAFKA__TOPIC": settings.kafka.topic, "SALESFLOW__KAFKA__MAX_BATCH_RECORDS": "700",
           "SALESFLOW__KAFKA__POLL_TIMEOUT_SECONDS": "0.3", "SALESFLOW__STREAM__TRIGGER_SECONDS": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "salesflow", "--data-dir", str(data), "stream", "--source",
                             "kafka"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path, kafka_address: str) -> None:
    settings = kafka_settings(tmp_path, kafka_address)
    records = publish(settings)
    rng = random.Random(7)
    for _ in range(5):
        process = _stream_process(settings, settings.data_dir)
        time.sleep(rng.uniform(2.5, 5.0))  # imports take ~1.5 s; then micro-batches of 700 records
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    done = run_stream(settings, "kafka", available_now=True)
    assert done.records < len(records)  # the killed runs did part of the work
    check_exactly_once(settings, records)


def test_sigterm_finishes_the_micro_batch_and_exits_cleanly(tmp_path: Path, kafka_address: str) -> None:
    settings = kafka_settings(tmp_path, kafka_address)
    records = publish(settings, SimulationSpec(events=3_000, seed=41, days=1, defects=noisy(oversized=0.0)))
    process = _stream_process(settings, settings.data_dir)
    time.sleep(4.0)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert reconcile_lake(Lake(settings.lake_root)).balanced
    run_stream(settings, "kafka", available_now=True)
    assert Lake(settings.lake_root).read(BRONZE_EVENTS).num_rows == len(records)


def test_embedded_broker_flag_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(tmp_path / "d"), "stream",
                             "--source", "kafka", "--broker", "embedded", "--available-now", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"records": 0' in result.stdout and "embedded Kafka-protocol broker on 127.0.0.1:" in result.stdout


@pytest.mark.parametrize("source", ["landing"])
def test_landing_stream_available_now(tmp_path: Path, source: str) -> None:
    from tests.conftest import land

    settings = load_settings(data_dir=tmp_path / "d")
    records = land(settings, SimulationSpec(events=3_000, seed=5, days=2))
    stats = run_stream(settings, source, available_now=True)
    assert stats.records == len(records) and reconcile_lake(Lake(settings.lake_root)).balanced


def test_stream_metrics_expose_watermark_lag_and_latency(tmp_path: Path, kafka_address: str) -> None:
    import re

    import httpx

    settings = kafka_settings(tmp_path, kafka_address)
    records = publish(settings, SimulationSpec(events=2_000, seed=43, days=1, defects=noisy(oversized=0.0)))
    env = {**os.environ, "SALESFLOW__KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "SALESFLOW__KAFKA__TOPIC": settings.kafka.topic, "SALESFLOW__KAFKA__POLL_TIMEOUT_SECONDS": "0.3",
           "SALESFLOW__STREAM__TRIGGER_SECONDS": "0.2"}
    log = tmp_path / "stream.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "stream",
                                    "--source", "kafka", "--metrics-port", "0"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                found = re.search(r"metrics on http://127.0.0.1:(\d+)/metrics", log.read_text())
                text = httpx.get(f"http://127.0.0.1:{found.group(1)}/metrics", timeout=30).text if found else ""
                done = re.search(r'^salesflow_layer_records\{layer="bronze"\} (\d+)', text, re.M)
                if done and int(done.group(1)) == len(records) and "salesflow_kafka_consumer_lag_messages{" in text:
                    break
                assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-2000:]
                time.sleep(1.0)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
    assert re.search(r'^salesflow_watermark_timestamp_seconds\{source="kafka"\} \d', text, re.M)
    assert re.search(r'^salesflow_stream_latency_seconds\{quantile="0.99"\} \d', text, re.M)
    assert re.search(r'^salesflow_stream_records_total [1-9]', text, re.M)
    assert all(
        int(n) >= 0 for n in re.findall(r'^salesflow_kafka_consumer_lag_messages\{partition="\d+"\} (\d+)', text, re.M)
    )
    assert "salesflow_lake_balanced 1" in text



class _SteadyConsumer:
    """A consumer whose queue never runs dry: every consume gets all it asks for, 10 ms later.
    A real broker under a real producer leaves gaps now and then, which would hide the rule.
    With ``queued`` it holds that many messages and then nothing more (a drained topic)."""

    def __init__(self, queued: int | None = None) -> None:
        self.offset, self.queued = 0, queued

    def assign(self, partitions: object) -> None:
        pass

    def consume(self, num_messages: int, timeout: float) -> list[object]:
        if self.queued is not None:
            num_messages = min(num_messages, self.queued - self.offset)
            if num_messages == 0:
                time.sleep(timeout)
                return []
        else:
            time.sleep(0.01)
        self.offset += num_messages
        return [_FakeMessage(o) for o in range(self.offset - num_messages, self.offset)]

    def close(self) -> None:
        pass


class _FakeMessage:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return b"{}"

    def timestamp(self) -> tuple[int, int]:
        return (1, 0)


def test_a_micro_batch_closes_while_messages_keep_arriving(tmp_path: Path) -> None:
    """Under a steady stream the client's queue may never run dry; the batch must still close
    max_batch_wait_seconds after its first message instead of waiting for max_batch_records."""
    from salesflow.sources.kafka import KafkaReader

    settings = load_settings(data_dir=tmp_path, kafka={"topic": "t", "poll_timeout_seconds": 0.2,
                                                       "max_batch_wait_seconds": 0.3})
    reader = KafkaReader(settings.kafka)
    reader.consumer, reader._partitions = _SteadyConsumer(), (float("inf"), [0])  # type: ignore[assignment]
    first = reader.poll_from({}, max_records=10**9)
    second = reader.poll_from({0: first[-1].offset + 1}, max_records=10**9)
    assert 0 < len(first) < 10**9 and 0 < len(second) < 10**9
    assert [m.offset for m in first + second] == list(range(len(first) + len(second)))


def test_a_micro_batch_goes_as_soon_as_the_fetched_messages_are_taken(tmp_path: Path) -> None:
    """A batch takes what the client has fetched and goes: it does not sit out
    max_batch_wait_seconds hoping for more, which would only add latency."""
    from salesflow.sources.kafka import KafkaReader

    settings = load_settings(data_dir=tmp_path, kafka={"topic": "t", "poll_timeout_seconds": 5,
                                                       "max_batch_wait_seconds": 30})
    reader = KafkaReader(settings.kafka)
    reader.consumer, reader._partitions = _SteadyConsumer(queued=25_000), (float("inf"), [0])  # type: ignore[assignment]
    clock = time.monotonic()
    batch = reader.poll_from({}, max_records=100_000)
    assert [m.offset for m in batch] == list(range(25_000))
    assert time.monotonic() - clock < 5  # neither the 30 s batch wait nor a 5 s poll timeout


def test_next_kafka_batch_is_ingested_ahead_and_a_stop_does_not_wait_for_messages(
        tmp_path: Path, kafka_address: str) -> None:
    """The next micro-batch is polled and committed to Bronze on a worker while one goes through
    Silver and Gold; a stop while the worker waits for a first message (idle_seconds an hour)
    returns at once and plans nothing, and a restart takes up after the last commit."""
    import threading

    from salesflow.bronze.kafka_ingest import OffsetCheckpoint
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.jobs.stream import _kafka_source

    settings = kafka_settings(tmp_path, kafka_address, max_batch_records=3_000, idle_seconds=3600)
    records = publish(settings, SimulationSpec(events=6_000, seed=41, days=1))
    lake = Lake(settings.lake_root)
    reader, bronze = _kafka_source(settings, lake, DuckDBEngine(), available_now=False)
    batches = bronze.batches()
    first = next(batches)
    first.durable()
    assert bronze.ahead is not None and bronze.ahead._ahead is not None
    done = bronze.ahead._ahead[0].result(timeout=60)  # the worker committed the next one meanwhile
    assert done is not None and done.batch_id == first.batch_id + 1
    assert lake.txn_version(BRONZE_EVENTS, bronze.app_id) == done.batch_id
    got = [first]  # how the records split between batches depends on when the polls return
    while sum(batch.rows for batch in got) < len(records):
        got.append(next(batches))
        got[-1].durable()
    assert got[1].batch_id == done.batch_id and sum(batch.rows for batch in got) == len(records)
    second = got[-1]
    closed = threading.Event()
    stopper = threading.Thread(target=lambda: (batches.close(), closed.set()))  # the worker now waits for messages
    stopper.start()
    assert closed.wait(30), "a stop waited for a message that never came"
    stopper.join()
    reader.close()
    checkpoint = OffsetCheckpoint.load(settings.checkpoint_dir / f"kafka-{settings.kafka.topic}.json")
    assert checkpoint.pending is None and checkpoint.batch_id == second.batch_id
    assert sum(checkpoint.offsets.values()) == len(records)
    check_bronze = lake.read(BRONZE_EVENTS, columns=["source_position"])
    assert check_bronze is not None and len(set(check_bronze["source_position"].to_pylist())) == len(records)
