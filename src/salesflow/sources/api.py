"""HTTP side of the REST API poller: one page per call, retried the way a good client should.

5xx answers, timeouts and dropped connections are retried with exponential backoff and full
jitter (AWS's recipe: sleep a random time up to the capped exponential, so many pollers do not
retry in lockstep). A 429 waits exactly what ``Retry-After`` asks (seconds or an HTTP date),
capped. Any other 4xx is terminal: retrying a bad token or a wrong URL cannot succeed.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from salesflow.config.sources import ApiSourceSpec
from salesflow.errors import ConfigError, TerminalError, TransientError

log = logging.getLogger(__name__)


class SourceUnavailable(TransientError):
    """The partner API kept failing after every retry; the next run resumes from the cursor."""


class SourceRefused(TerminalError):
    """The partner API refused the request (401, 403, 404 ...): a setting has to change."""


@dataclass(frozen=True)
class Page:
    records: list[Any]
    body: Any
    next_link: str | None
    url: str


class ApiClient:
    def __init__(self, name: str, spec: ApiSourceSpec, sleep: Callable[[float], None] = time.sleep) -> None:
        self.name, self.spec, self.sleep = name, spec, sleep
        self.client = httpx.Client(timeout=spec.timeout_seconds, headers={**self.spec.headers, **self._auth_headers()},
                                   auth=self._basic_auth(), follow_redirects=True)
        self.retries = 0
        """Retries made so far (for logs and tests)."""

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, params: dict[str, Any] | None) -> Page:
        for attempt in range(self.spec.max_retries + 1):
            last = attempt == self.spec.max_retries
            try:
                response = self.client.get(url, params=params)
            except httpx.TransportError as exc:  # timeouts, refused or reset connections
                self._wait(attempt, None, last, f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code == 429 or response.status_code >= 500:
                self._wait(attempt, response, last, f"HTTP {response.status_code}")
                continue
            if response.status_code >= 400:
                raise SourceRefused(f"api {self.name}: {response.request.url} answered HTTP {response.status_code}: "
                                    f"{response.text[:200]} (check apis.{self.name}.url and its auth settings)")
            return self._page(response)
        raise AssertionError("unreachable")  # _wait raises on the last attempt

    def _wait(self, attempt: int, response: httpx.Response | None, last: bool, what: str) -> None:
        if last:
            raise SourceUnavailable(f"api {self.name}: {what} after {attempt + 1} attempt(s); "
                                    f"the next run resumes from the committed cursor")
        delay = _retry_after(response) if response is not None and response.status_code == 429 else None
        if delay is None:
            cap = min(self.spec.max_backoff_seconds, self.spec.backoff_seconds * 2 ** attempt)
            delay = random.uniform(0, cap)  # noqa: S311 - not for security: jitter and simulated data
        delay = min(delay, self.spec.max_backoff_seconds)
        self.retries += 1
        log.warning("api %s: %s, retry %d in %.2f s", self.name, what, attempt + 1, delay)
        self.sleep(delay)

    def _page(self, response: httpx.Response) -> Page:
        try:
            body = response.json()
        except ValueError:
            raise SourceRefused(f"api {self.name}: {response.request.url} did not answer JSON") from None
        records = dig(body, self.spec.records_path)
        if not isinstance(records, list):
            raise SourceRefused(f"api {self.name}: no list at records_path {self.spec.records_path!r} "
                                f"in the answer of {response.request.url}")
        link = response.links.get("next", {}).get("url")
        return Page(records, body, str(response.url.join(link)) if link else None, str(response.url))

    def _auth_headers(self) -> dict[str, str]:
        if self.spec.auth == "bearer":
            return {"Authorization": f"Bearer {self._secret()}"}
        if self.spec.auth == "header":
            return {self.spec.auth_header: self._secret()}
        return {}

    def _basic_auth(self) -> tuple[str, str] | None:
        if self.spec.auth != "basic":
            return None
        user, _, password = self._secret().partition(":")
        return user, password

    def _secret(self) -> str:
        env = self.spec.token_env
        if not env:
            raise ConfigError(f"apis.{self.name}.auth is {self.spec.auth}: set apis.{self.name}.token_env to the "
                              f"name of the environment variable holding the token")
        value = os.environ.get(env)
        if not value:
            raise ConfigError(f"apis.{self.name}: environment variable ${env} (token_env) is not set")
        return value


def dig(body: Any, path: str) -> Any:
    """Follow a dotted path (``data.orders``) into a JSON body; an empty path is the body."""
    for part in [p for p in path.split(".") if p]:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
