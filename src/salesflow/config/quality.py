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


class AlertsConfig(Section):
    webhook_url: SecretStr | None = None
    """Slack-compatible incoming webhook (secret: environment only)."""
    timeout_seconds: float = Field(5.0, gt=0)
    """Per attempt."""
    retries: int = Field(3, ge=0, le=10)
    """Further attempts after the first, with exponential backoff."""
