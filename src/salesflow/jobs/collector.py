"""``salesflow collect``: the HTTP collector, closed by default (API keys, or loopback only)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.errors import ConfigError


def serve_collector(ctx: RunContext | Settings, host: str | None = None, port: int | None = None,
                    sink_name: str | None = None, insecure_no_auth: bool = False,
                    announce: Callable[[str], None] = lambda line: None) -> None:
    """``salesflow collect``: the HTTP collector until a signal stops it; ``host``, ``port`` and
    ``sink_name`` override the ``collector`` settings."""
    import uvicorn

    from salesflow.collector import create_app
    from salesflow.collector.guard import ConnectionLimits, GuardedH11Protocol
    from salesflow.collector.sinks import KafkaSink, LandingSink, Sink
    from salesflow.sources.landing import LandingLog

    settings = as_context(ctx).settings
    updates = {k: v for k, v in {"host": host, "port": port, "sink": sink_name}.items() if v is not None}
    settings = settings.model_copy(update={"collector": settings.collector.model_copy(update=updates)})
    config = settings.collector
    _refuse_open_collector(config.host, bool(config.api_keys), insecure_no_auth)
    sink: Sink = KafkaSink(settings) if config.sink == "kafka" else LandingSink(LandingLog(settings.landing_dir))
    if not config.api_keys:
        announce(f"collector.api_keys is empty: authentication is off ({config.host} only)")
    scheme = "https" if config.ssl_certfile else "http"
    announce(f"collector on {scheme}://{config.host}:{config.port}/v1/events -> {config.sink} "
             f"(docs: /docs, metrics: /metrics)")
    limits = ConnectionLimits(config.header_timeout_seconds, config.body_timeout_seconds,
                              config.max_connections_per_client)
    uvicorn.run(create_app(settings, sink), host=config.host, port=config.port, log_level="warning",
                timeout_graceful_shutdown=5, http=GuardedH11Protocol.with_limits(limits),
                limit_concurrency=config.max_connections, ssl_certfile=config.ssl_certfile,
                ssl_keyfile=config.ssl_keyfile)


def _refuse_open_collector(host: str, has_keys: bool, insecure_no_auth: bool) -> None:
    """Closed by default: without API keys the collector listens on a loopback address only."""
    if has_keys or insecure_no_auth or is_loopback(host):
        return
    raise ConfigError(f"collector.api_keys is empty: refusing to accept unauthenticated events on {host}; "
                      f"set collector.api_keys (SHA-256 of each key), listen on 127.0.0.1, or pass "
                      f"--insecure-no-auth for a throwaway test")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to any interface
