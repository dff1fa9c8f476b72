"""Connection guards the HTTP server itself lacks: read deadlines and a per-client connection cap.

uvicorn waits for a request's headers and body as long as a client cares to send them, so a few
hundred clients that trickle one header byte at a time ("slowloris") hold the collector's sockets
for good. This protocol gives each request a deadline for its headers and another for its body
(counted from the first byte each phase may start, not reset by trickled bytes), answers 408 and
closes the connection when one passes, and refuses a client's connection beyond
``max_connections_per_client`` open at once with 503. The global cap is uvicorn's
``limit_concurrency``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_503 = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\n"
        b"connection: close\r\ncontent-length: 36\r\n\r\ntoo many connections from one client")


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    """Seconds from a connection (or the end of its previous response) to a request's last header."""
    body_timeout: float
    """Seconds from a request's headers to the end of its body."""
    per_client: int
    """Connections one client address may hold open at once."""


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with request read deadlines and a per-client connection cap."""

    limits: ClassVar[ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None

    @classmethod
    def with_limits(cls, limits: ConnectionLimits) -> type[GuardedH11Protocol]:
        return type("GuardedH11Protocol", (cls,), {"limits": limits})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        same = sum(1 for c in self.connections if _client_host(c) == host)
        if host is not None and same > self.limits.per_client:
            log.warning(
                "collector: %s holds %d connections (limit %d); refused", host, same - 1, self.limits.per_client
            )
            transport.write(_503)
            transport.close()
            return
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of the phase the client is in: sending headers, sending a body, or neither."""
        state = self.conn.their_state
        phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
        if phase != self._phase:
            self._arm(phase)

    def _arm(self, phase: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None and not self.transport.is_closing():
            seconds = self.limits.header_timeout if phase == "headers" else self.limits.body_timeout
            self._deadline = self.loop.call_later(seconds, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.info("collector: %s did not send its request %s in time; closed", self.client, self._phase)
        if self.cycle is None or not self.cycle.response_started:  # nobody answered this request yet
            self.transport.write(_408)
        if self.cycle is not None:
            self.cycle.keep_alive = False
        self.transport.close()


def _client_host(connection: object) -> str | None:
    client = getattr(connection, "client", None)
    return client[0] if client else None
