"""What a stream run has done so far: batches, records, time and end-to-end latency samples."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

LATENCY_SAMPLES = 200_000


@dataclass
class StreamStats:
    batches: int = 0
    records: int = 0
    seconds: float = 0.0
    maintained_at: int = 0
    consumer_lag: dict[int, int] = field(default_factory=dict)
    """Kafka messages per partition not yet in Bronze, after the last micro-batch."""
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    """End to end per sampled record: produced (Kafka timestamp / segment write) -> visible in gold.
    Bounded: on a long run the percentiles describe the most recent samples."""

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def events_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, object]:
        return {"batches": self.batches, "records": self.records, "seconds": round(self.seconds, 2),
                "events_per_second": round(self.events_per_second),
                "latency_ms": {f"p{int(q * 100)}": self.percentile(q) for q in (0.5, 0.95, 0.99)}}
