"""Kafka: a consumer that reads exact offset ranges, and a producer for the simulator.

The consumer does not rely on Kafka's committed offsets for correctness: the salesflow checkpoint
(and, if it is lost, Bronze's own ``source_position`` column) says where each partition stands.
Offsets are committed to the consumer group only after the Bronze commit, for monitoring tools.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from salesflow.common.extras import require
from salesflow.config import KafkaConfig
from salesflow.errors import ConfigError, TransientError

log = logging.getLogger(__name__)


def client_config(config: KafkaConfig) -> dict[str, Any]:
    """librdkafka settings from the typed config; the SASL password comes from the environment only."""
    out: dict[str, Any] = {"bootstrap.servers": config.bootstrap_servers, "security.protocol": config.security_protocol,
                           "log_level": 3, "logger": logging.getLogger("salesflow.kafka.client")}
    if config.sasl_mechanism:
        out["sasl.mechanism"] = config.sasl_mechanism
    if config.sasl_username:
        out["sasl.username"] = config.sasl_username
    if config.sasl_password:
        out["sasl.password"] = config.sasl_password.get_secret_value()
    if config.ssl_ca_location:
        out["ssl.ca.location"] = config.ssl_ca_location
    return {**out, **config.extra}


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    value: bytes
    timestamp_ms: int


_CONSUME_CHUNK = 10_000
_HOLD_WAIT = 0.01
"""Seconds one consume waits while a batch polled ahead holds for its consumer."""


class KafkaReader:
    def __init__(self, config: KafkaConfig, stop_at_end: bool = False) -> None:
        """``stop_at_end`` (``--available-now``): a poll returns nothing as soon as the consumer has
        reached the end of every partition, rather than after ``idle_seconds`` of quiet. Only then
        does the consumer report partition ends: with them a live stream's p99 latency at 20,000
        events/s was 3.5-4.2 s instead of 1.3 s."""
        Consumer = require("confluent_kafka", "the kafka source").Consumer

        self.config, self.stop_at_end = config, stop_at_end
        # Large fetch limits: a 10 MB message must reach quarantine (payload_too_large), not stall us.
        # A short fetch wait: a broker may hold a fetch for its full wait even once data has come
        # (tansu does; librdkafka's 500 ms default tripled p50 delivery: bench/RESULTS.md).
        self.consumer = Consumer({"fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 16_777_216,
                                  "fetch.wait.max.ms": 50,
                                  "receive.message.max.bytes": 60_000_000, **client_config(config),
                                  "group.id": config.group_id, "enable.auto.commit": False,
                                  "auto.offset.reset": "earliest", "enable.partition.eof": stop_at_end})
        self._position: dict[int, int] | None = None
        """Where the assignment stands after the last poll: while the next poll starts there, the
        consumer keeps its assignment and its prefetched messages (re-assigning drops both)."""
        self._partitions: tuple[float, list[int]] | None = None
        self._at_end: set[int] = set()
        """Partitions whose end the consumer has reached (librdkafka's partition EOF, from the
        broker's fetch responses) and that have had no message since."""

    def partitions(self) -> list[int]:
        from confluent_kafka import KafkaException

        try:
            metadata = self.consumer.list_topics(self.config.topic, timeout=10)
        except KafkaException as exc:
            raise TransientError(f"kafka at {self.config.bootstrap_servers} is not reachable "
                                 f"(kafka.bootstrap_servers): {exc.args[0].str()}") from None
        topic = metadata.topics.get(self.config.topic)
        if topic is None or topic.error is not None:
            raise TransientError(f"kafka topic {self.config.topic!r} is not available: {topic and topic.error}")
        return sorted(topic.partitions)

    def poll_from(self, start: dict[int, int], max_records: int, abort: Callable[[], bool] = lambda: False,
                  hold: Callable[[], bool] = lambda: False) -> list[Message]:
        """Up to ``max_records`` messages from ``start`` (per partition): the batch waits for its
        first message, then takes what the client has already fetched and goes. It closes when
        that queue runs dry (a consume returns fewer than asked) or ``max_batch_wait_seconds``
        after the first message, whichever is first; an empty topic returns nothing after
        ``idle_seconds`` (with ``stop_at_end``, as soon as the end of every partition is reached,
        and as soon as ``abort()`` says the stream stops). While ``hold()`` is true a dry queue does
        not close the batch: polled ahead, it gathers until its consumer is ready for it.

        End offsets come from what was actually read, not from watermarks: a broker's reported high
        watermark can lag, and a plan must name offsets that exist.
        """
        wanted = {p: start.get(p, 0) for p in self._known_partitions()}
        if wanted != self._position:
            self._assign(wanted)
        out: list[Message] = []
        idle_since = time.monotonic()
        closes_at = float("inf")  # set by the first message: max_batch_wait_seconds later
        holding = False
        while len(out) < max_records and time.monotonic() < closes_at:
            asked = min(_CONSUME_CHUNK, max_records - len(out))
            batch = self.consumer.consume(asked, _HOLD_WAIT if holding else 0)  # what the client holds
            if not batch and not out:  # nothing yet: wait for the first message
                if (self.stop_at_end and self._at_end >= wanted.keys()) or abort():
                    break
                batch = self.consumer.consume(1, self.config.poll_timeout_seconds)
                if not batch and time.monotonic() - idle_since >= self.config.idle_seconds:
                    break
                asked = 1
            taken = self._messages(batch)
            if taken:
                if not out:
                    closes_at = time.monotonic() + self.config.max_batch_wait_seconds
                out.extend(taken)
            if out and len(taken) < asked:
                holding = hold() and not abort()
                if not holding:
                    break  # the client's queue ran dry: what is here goes now
        self._position = dict(wanted)
        for message in out:
            self._position[message.partition] = max(self._position[message.partition], message.offset + 1)
        return out

    def _known_partitions(self) -> list[int]:
        """The topic's partitions, asked of the broker at most every 10 s (a metadata round trip)."""
        now = time.monotonic()
        if self._partitions is None or now - self._partitions[0] > 10:
            self._partitions = (now, self.partitions())
        return self._partitions[1]

    def read(self, start: dict[int, int], end: dict[int, int]) -> list[Message]:
        """Every message in [start, end) of each partition (a replay of a planned batch)."""
        wanted = {p: (start.get(p, 0), e) for p, e in end.items() if e > start.get(p, 0)}
        if not wanted:
            return []
        self._position = None  # a replay reads elsewhere: the next poll must assign again
        self._assign({p: s for p, (s, _) in wanted.items()})
        out: list[Message] = []
        done: set[int] = set()
        deadline = time.monotonic() + 120
        while len(done) < len(wanted):
            if time.monotonic() > deadline:
                raise TransientError(f"kafka did not return the planned offsets {wanted} within 120 s")
            for message in self._messages(self.consumer.consume(10_000, self.config.poll_timeout_seconds)):
                first, stop = wanted.get(message.partition, (0, 0))
                if first <= message.offset < stop:
                    out.append(message)
                if message.offset >= stop - 1:
                    done.add(message.partition)
        return sorted(out, key=lambda m: (m.partition, m.offset))

    def _assign(self, offsets: dict[int, int]) -> None:
        from confluent_kafka import TopicPartition

        self.consumer.assign([TopicPartition(self.config.topic, p, o) for p, o in offsets.items()])
        self._at_end = set()

    def _messages(self, batch: list[Any]) -> list[Message]:
        from confluent_kafka import KafkaError

        out = []
        for message in batch:
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    self._at_end.add(message.partition())
                    continue
                raise TransientError(f"kafka error: {message.error()}")
            self._at_end.discard(message.partition())
            out.append(Message(message.partition(), message.offset(), message.value() or b"", message.timestamp()[1]))
        return out

    def commit(self, next_offsets: dict[int, int]) -> None:
        """Tell the consumer group how far Bronze got (informational: lag dashboards)."""
        from confluent_kafka import TopicPartition

        try:
            self.consumer.commit(offsets=[TopicPartition(self.config.topic, p, o) for p, o in next_offsets.items()],
                                 asynchronous=False)
        except Exception as exc:  # the checkpoint is the truth; a failed group commit is not fatal
            log.warning("could not commit offsets to consumer group %s: %s", self.config.group_id, exc)

    def lag(self, next_offsets: dict[int, int]) -> dict[int, int]:
        """Messages per partition past what Bronze holds (high watermark - next offset to read).

        A gauge for dashboards only: some brokers report high watermarks late, so it can read low."""
        from confluent_kafka import KafkaException, TopicPartition

        out = {}
        for partition in self._known_partitions():
            try:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(self.config.topic, partition),
                                                              timeout=5, cached=False)
            except KafkaException:
                continue
            out[partition] = max(0, high - next_offsets.get(partition, 0))
        return out

    def close(self) -> None:
        self.consumer.close()


def ensure_topic(config: KafkaConfig, partitions: int = 2) -> None:
    admin_module = require("confluent_kafka.admin", "creating a kafka topic")
    AdminClient, NewTopic = admin_module.AdminClient, admin_module.NewTopic

    admin = AdminClient(client_config(config))
    futures = admin.create_topics([NewTopic(config.topic, num_partitions=partitions, replication_factor=1)])
    for future in futures.values():
        try:
            future.result(timeout=15)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                raise TransientError(f"cannot create kafka topic {config.topic!r}: {exc}") from None


def produce(config: KafkaConfig, records: Iterable[tuple[bytes | None, bytes]], rate: float | None = None) -> int:
    """Send (key, value) pairs; optionally paced at ``rate`` per second. Returns the count delivered."""
    Producer = require("confluent_kafka", "producing to kafka").Producer

    failures: list[str] = []
    producer = Producer({"message.max.bytes": 16_777_216, **client_config(config), "linger.ms": 20, "acks": "all"})

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    sent, started = 0, time.monotonic()
    for key, value in records:
        while True:
            try:
                producer.produce(config.topic, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        sent += 1
        if rate and sent % 100 == 0:
            time.sleep(max(0.0, sent / rate - (time.monotonic() - started)))
        producer.poll(0)
    producer.flush(60)
    if failures:
        raise TransientError(f"{len(failures)} kafka deliveries failed, first: {failures[0]}")
    return sent


def parse_kafka_url(url: str) -> tuple[str, str]:
    """``kafka://host:port/topic`` -> (bootstrap servers, topic)."""
    if not url.startswith("kafka://") or "/" not in url.removeprefix("kafka://"):
        raise ConfigError(f"{url!r}: expected kafka://HOST:PORT/TOPIC")
    servers, _, topic = url.removeprefix("kafka://").partition("/")
    if not servers or not topic:
        raise ConfigError(f"{url!r}: expected kafka://HOST:PORT/TOPIC")
    return servers, topic
