"""Quality gates and the alerts they send."""

from __future__ import annotations

from pydantic import Field, SecretStr

from salesflow.config.section import Section


class QualityConfig(Section):
    enabled: bool = True
    """Run the expectation suites (contract checks and reconciliation always run)."""
    expectations_file: str | None = None
    """YAML of extra or overriding rules: layer -> table -> list of expectations."""
    sample_rows: int = Field(5, ge=0, le=100)
    """Violating rows kept per failed rule in ops.quality_results."""
    quarantine_rate_warn: float = Field(0.01, ge=0, le=1)
    """Rule ``quarantine_rate``: a Silver batch that quarantines more than this share of its records
    is recorded (and printed) as a warning."""
    quarantine_rate_fail: float | None = Field(0.20, ge=0, le=1)
    """Above this share the batch is blocked like any ``fail`` rule: nothing of it is written and
    the command exits non-zero until the data or this setting changes (null: never block)."""
    quarantine_rate_min_rows: int = Field(1000, ge=1)
    """The fail threshold applies to batches of at least this many records: three bad records in a
    stream's micro-batch of ten say little, and must not stop the stream."""


class AlertsConfig(Section):
    webhook_url: SecretStr | None = None
    """Slack-compatible incoming webhook (secret: environment only)."""
    timeout_seconds: float = Field(5.0, gt=0)
    """Per attempt."""
    retries: int = Field(3, ge=0, le=10)
    """Further attempts after the first, with exponential backoff."""
