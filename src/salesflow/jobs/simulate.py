"""``salesflow simulate``: deterministic shop traffic into the landing log (a batch of days, or
paced in real time) or to a Kafka topic; the catalogue it sells from always lands as reference
data files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.simulator import SimulationSpec, build_catalog, simulate
from salesflow.simulator.defects import SimRecord
from salesflow.simulator.output import SimulationOutput, write_paced, write_reference, write_to_landing
from salesflow.sources.kafka import ensure_topic, parse_kafka_url, produce
from salesflow.sources.landing import LandingLog


def simulate_to_landing(ctx: RunContext | Settings, spec: SimulationSpec,
                        on_progress: Callable[[int], None] | None = None) -> SimulationOutput:
    """A batch of simulated days into the landing log, as segments."""
    settings = as_context(ctx).settings
    landing = LandingLog(settings.landing_dir)
    catalog = build_catalog(spec.seed)
    write_reference(landing, catalog)
    return write_to_landing(landing, simulate(spec, catalog), settings.landing.segment_records,
                            on_progress=on_progress)


def simulate_paced(ctx: RunContext | Settings, spec: SimulationSpec) -> SimulationOutput:
    """Real-time traffic (``spec.realtime_from``) into the landing log as it happens."""
    landing = LandingLog(as_context(ctx).settings.landing_dir)
    catalog = build_catalog(spec.seed)
    write_reference(landing, catalog)
    return write_paced(landing, simulate(spec, catalog))


def simulate_to_kafka(ctx: RunContext | Settings, url: str, spec: SimulationSpec,
                      rate: float | None) -> SimulationOutput:
    """Produce to ``kafka://HOST:PORT/TOPIC``, keyed by order id (orders) or customer/session
    (browsing) so each key's events keep their order; reference data lands as files."""
    settings = as_context(ctx).settings
    catalog = build_catalog(spec.seed)
    write_reference(LandingLog(settings.landing_dir), catalog)
    servers, topic = parse_kafka_url(url)
    config = settings.kafka.model_copy(update={"bootstrap_servers": servers, "topic": topic})
    ensure_topic(config)
    defects: dict[str, int] = {}
    sent = produce(config, _keyed(simulate(spec, catalog), defects), rate)
    return SimulationOutput(sent, 0, defects)


def _keyed(records: Iterable[SimRecord], defects: dict[str, int]) -> Iterator[tuple[bytes | None, bytes]]:
    for record in records:
        if record.defect:
            defects[record.defect] = defects.get(record.defect, 0) + 1
        event = record.event or {}
        key = event.get("order_id") or event.get("customer_id") or event.get("session_id")
        yield (key.encode() if key else None), record.line


def now() -> datetime:
    return datetime.now(UTC)
