"""The long-running ``salesflow run`` and the live dashboard feed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from salesflow.config.section import Section


class RunConfig(Section):
    """``salesflow run``: the supervised main job."""

    stream: bool = True
    """Run the stream runner continuously beside the scheduled steps."""
    source: Literal["landing", "kafka"] = "landing"
    interval_seconds: float = Field(3600.0, gt=0)
    """Time between runs of the scheduled steps (the first run is at start)."""
    cron: str | None = None
    """Instead of the interval: a five-field cron expression in UTC, e.g. ``15 * * * *``."""
    steps: list[str] = ["quality", "warehouse", "forecast"]
    """In order: batch, quality, warehouse, forecast, or the name of one of ``commands``."""
    commands: dict[str, str] = {}
    """Extra steps as shell commands. Exit code 75 (EX_TEMPFAIL) is transient: retried."""
    retries: int = Field(3, ge=0)
    """Retries of a step after a transient failure, with exponential backoff."""
    backoff_seconds: float = Field(2.0, ge=0)
    max_backoff_seconds: float = Field(300.0, ge=0)
    metrics_port: int | None = Field(9464, ge=0, le=65535)
    """Prometheus ``/metrics`` on 127.0.0.1 (0: any free port, logged; null: off)."""
    dashboard: bool = False
    """Also serve the dashboard (``salesflow dashboard``) for as long as the job runs."""
    dashboard_port: int = Field(8501, ge=1, le=65535)
    """Port of that dashboard on 127.0.0.1; a port in use stops the job before anything starts."""
    progress_seconds: float = Field(5.0, gt=0)
    """At most this often, the job logs what the stream did since the last line (records, events/s, freshness)."""


class LiveConfig(Section):
    """Where the dashboard's live numbers come from."""

    sink: Literal["lake", "redis"] = "lake"
    """``redis``: the stream also publishes the last hour of windows to Redis after each micro-batch."""
    redis_url: SecretStr | None = None
    """redis://host:port/db (secret: environment only, SALESFLOW__LIVE__REDIS_URL)."""
    key_prefix: str = "salesflow:live"
    ttl_seconds: int = Field(7200, ge=60)
