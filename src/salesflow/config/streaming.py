"""The broker and the stream runner."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from salesflow.config.section import Section


class KafkaConfig(Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    """Comma-separated host:port list."""
    topic: str = "salesflow.events"
    group_id: str = "salesflow"
    """Consumer group; offsets are committed to it only after the Bronze commit."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    """PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 ..."""
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    """Secret: environment only (SALESFLOW__KAFKA__SASL_PASSWORD)."""
    ssl_ca_location: str | None = None
    extra: dict[str, str] = {}
    """Any further librdkafka setting, passed through as is."""
    max_batch_records: int = Field(50_000, ge=1)
    """Messages per micro-batch at most."""
    poll_timeout_seconds: float = Field(1.0, gt=0)
    """One wait for a micro-batch's first message. After it the batch takes what the client has
    already fetched and closes as soon as that runs dry."""
    max_batch_wait_seconds: float = Field(0.5, gt=0)
    """A micro-batch stops gathering this long after its first message at the latest: a client
    that fetches as fast as it is read would otherwise keep it open until max_batch_records."""
    idle_seconds: float = Field(2.0, gt=0)
    """With no message for this long the topic counts as drained (--available-now stops)."""


class StreamConfig(Section):
    trigger_seconds: float = Field(1.0, ge=0)
    """Pause between micro-batches when the source had nothing new."""
    maintenance_every_batches: int = Field(50, ge=1)
    """Compact small files, checkpoint the Delta log and vacuum after this many micro-batches."""
    record_run_seconds: float = Field(60.0, gt=0)
    """A running stream records a row in ``ops.pipeline_runs`` (counts, reconciliation, events/s) for
    each stretch of this long that did work, and one for the rest when it stops."""
    retry_backoff_seconds: float = Field(1.0, gt=0)
    """First wait after a transient failure (object store or broker away); doubles, with jitter."""
    retry_max_seconds: float = Field(600.0, gt=0)
    """The stream stops with the error once consecutive transient failures have lasted this long."""
    vacuum_retention_hours: float = Field(168.0, ge=1)
    """Files younger than this are never vacuumed (readers and time travel keep working)."""
