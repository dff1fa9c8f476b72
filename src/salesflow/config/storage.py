"""Where data lives: the lake, the landing log and the warehouse."""

from __future__ import annotations

from pydantic import Field, SecretStr

from salesflow.config.section import Section


class LakeConfig(Section):
    root: str | None = None
    """Root of the Delta lake: a local path (default ``<data_dir>/lake``) or an object-store URL,
    ``s3://bucket/prefix`` (AWS S3, MinIO, R2, any S3-compatible endpoint); ``gs://`` and
    ``az://``/``abfss://`` pass through to delta-rs with credentials from ``options``/environment."""
    endpoint: str | None = None
    """S3-compatible endpoint URL (MinIO: ``http://minio:9000``). Default: AWS."""
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    """Secret: environment only (SALESFLOW__LAKE__SECRET_ACCESS_KEY)."""
    session_token: SecretStr | None = None
    """Secret: environment only."""
    allow_http: bool = False
    """Allow a plain-HTTP endpoint (local MinIO)."""
    virtual_hosted_style: bool = False
    """``bucket.endpoint/key`` requests instead of path style ``endpoint/bucket/key``."""
    unsafe_rename: bool = False
    """Only for S3-compatible stores without conditional writes (If-None-Match): commit without
    them. Safe with one writer only; salesflow's Bronze lock is per machine."""
    max_retries: int = Field(8, ge=0)
    """Attempts per object-store request after the first (exponential backoff with jitter)."""
    retry_timeout_seconds: float = Field(60.0, gt=0)
    """Give up retrying one request after this long: an outage longer than this fails the step."""
    options: dict[str, str] = {}
    """Any further delta-rs / object_store storage option, passed through (not for secrets)."""


class LandingConfig(Section):
    path: str | None = None
    """Landing log directory (JSON Lines segments). Default: ``<data_dir>/landing``."""
    segment_records: int = Field(50_000, ge=1)
    """Records per landing segment file written by the simulator."""


class WarehouseConfig(Section):
    path: str | None = None
    """DuckDB warehouse file. Default: ``<data_dir>/warehouse.duckdb``."""
    url: SecretStr | None = None
    """PostgreSQL URL for the warehouse (secret: environment only)."""
