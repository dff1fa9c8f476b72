"""Collector counters in the Prometheus text format (no client library needed for a handful)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from salesflow.common.prometheus import MetricsText

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class CollectorMetrics:
    requests: Counter[int] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    latency_buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    latency_sum: float = 0.0
    latency_count: int = 0

    def observe(self, status: int, seconds: float) -> None:
        self.requests[status] += 1
        self.latency_sum += seconds
        self.latency_count += 1
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.latency_buckets[i] += 1

    def render(self) -> str:
        out = MetricsText()
        out.family("salesflow_collector_requests_total", "counter", "HTTP requests by status code.",
                   [({"code": code}, n) for code, n in sorted(self.requests.items())])
        out.family("salesflow_collector_events_total", "counter", "Events by outcome.",
                   [({"outcome": k}, n) for k, n in sorted(self.events.items())])
        out.family("salesflow_collector_rejected_total", "counter", "Rejected events by first contract error.",
                   [({"reason": k}, n) for k, n in sorted(self.rejected.items())])
        out.histogram("salesflow_collector_request_seconds", "Request latency, durable write included.",
                      list(zip(BUCKETS, self.latency_buckets, strict=True)), self.latency_count, self.latency_sum)
        return out.render()
