"""Data-quality gates: expectations declared as data, run as SQL in the pipeline's engine."""

from __future__ import annotations

from salesflow.config import Settings
from salesflow.engine.base import EngineAdapter
from salesflow.quality.alerts import WebhookAlerter
from salesflow.quality.gate import QualityGate
from salesflow.quality.suite import load_suite


def alerter_for(settings: Settings) -> WebhookAlerter:
    url = settings.alerts.webhook_url
    return WebhookAlerter(url.get_secret_value() if url else None, settings.alerts.timeout_seconds,
                          settings.alerts.retries)


def make_gate(engine: EngineAdapter, settings: Settings, layer: str, run_id: str,
              alerter: WebhookAlerter | None = None) -> QualityGate:
    """The gate for one layer; with ``quality.enabled: false`` it only records built-in checks."""
    suite = load_suite(layer, settings.quality.expectations_file) if settings.quality.enabled else {}
    return QualityGate(engine, suite, layer, run_id, alerter or alerter_for(settings), settings.quality.sample_rows)


__all__ = ["QualityGate", "WebhookAlerter", "alerter_for", "make_gate"]
