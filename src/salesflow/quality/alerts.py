"""Alerts: a Slack-compatible webhook. Retries with backoff; a dead webhook never stops the pipeline."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from salesflow.errors import ConfigError
from salesflow.redact import redact

log = logging.getLogger(__name__)


@dataclass
class WebhookAlerter:
    url: str | None
    timeout_seconds: float = 5.0
    retries: int = 3
    backoff_seconds: float = 0.5
    sent: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        # urllib would also open file:// and ftp:// URLs: an alert must never read the host's files.
        if self.url and urlsplit(self.url).scheme.lower() not in ("http", "https"):
            raise ConfigError("alerts.webhook_url must be an http:// or https:// URL")

    def send(self, title: str, lines: list[str]) -> bool:
        """Post ``{"text": ...}`` (Slack's incoming-webhook shape). Returns whether it arrived."""
        if not self.url:
            return False
        body = json.dumps({"text": redact(f"*salesflow: {title}*\n" + "\n".join(lines)),
                           "username": "salesflow"}).encode()
        for attempt in range(1, self.retries + 2):
            if self._post(body, attempt):
                self.sent += 1
                return True
            if attempt <= self.retries:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        self.failed += 1
        log.error("alert %r not delivered after %d attempts; continuing", title, self.retries + 1)
        return False

    def _post(self, body: bytes, attempt: int) -> bool:
        request = urllib.request.Request(self.url or "", data=body, method="POST",  # noqa: S310 - http(s) only
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310 - http(s)
                return 200 <= response.status < 300
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            log.warning("alert webhook attempt %d failed: %s", attempt, exc)
            return False
