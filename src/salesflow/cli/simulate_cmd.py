"""``salesflow simulate``: generate traffic into the landing log, with a progress bar."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from salesflow.config import Settings
from salesflow.simulator import DefectRates, SimulationSpec, build_catalog, simulate
from salesflow.simulator.defects import SimRecord
from salesflow.simulator.output import (
    SimulationOutput,
    write_paced,
    write_reference,
)
from salesflow.sources.kafka import ensure_topic, parse_kafka_url, produce
from salesflow.sources.landing import LandingLog


def parse_defects(pairs: tuple[str, ...], clean: bool) -> DefectRates:
    base = DefectRates.none() if clean else DefectRates()
    overrides: dict[str, float] = {}
    for pair in pairs:
        kind, sep, value = pair.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or not 0 <= rate <= 1:
            raise click.BadParameter(f"{pair!r}: expected KIND=RATE with RATE in [0, 1]", param_hint="--defect")
        overrides[kind] = rate
    try:
        return base.with_overrides(overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--defect") from None


def run_simulation(console: Console, settings: Settings, *, events: int | None, rate: float | None,
                   duration: float | None, seed: int, start: date, days: int, defects: tuple[str, ...],
                   clean: bool, target: str) -> SimulationOutput:
    if target != "landing" and not target.startswith("kafka://"):
        raise click.BadParameter(f"{target!r}: use landing or kafka://HOST:PORT/TOPIC", param_hint="--to")
    if (rate is None) != (duration is None):
        raise click.UsageError("--rate and --duration go together")
    if rate is not None and events is not None:
        raise click.UsageError("use either --events or --rate/--duration")
    rates = parse_defects(defects, clean)
    landing = LandingLog(settings.landing_dir)
    catalog = build_catalog(seed)
    write_reference(landing, catalog)  # reference data always lands as files, whatever carries events
    if target.startswith("kafka://"):
        spec = SimulationSpec(
            events=int(rate * duration) if rate and duration else 200_000 if events is None else events,
            seed=seed,
            start=start,
            days=days,
            defects=rates,
            realtime_from=datetime.now(UTC) if rate else None,
            realtime_seconds=duration or 0.0,
        )
        output = to_kafka(settings, target, simulate(spec, catalog), rate)
    elif rate is not None and duration is not None:
        spec = SimulationSpec(events=int(rate * duration), seed=seed, defects=rates,
                              realtime_from=datetime.now(UTC), realtime_seconds=duration)
        output = write_paced(landing, simulate(spec, catalog))
    else:
        spec = SimulationSpec(events=200_000 if events is None else events, seed=seed, start=start,
                              days=days, defects=rates)
        output = _write_with_progress(settings, spec)
    where = target if target.startswith("kafka://") else f"{output.segments} segment(s) at {landing.root}"
    console.print(f"simulated {output.records:,} records into {where}; "
                  f"defects: {output.defects or 'none'}", highlight=False)
    return output


def to_kafka(settings: Settings, url: str, records: Iterable[SimRecord], rate: float | None) -> SimulationOutput:
    """Produce to Kafka, keyed by order id (orders) or customer/session (browsing) for ordering."""
    servers, topic = parse_kafka_url(url)
    config = settings.kafka.model_copy(update={"bootstrap_servers": servers, "topic": topic})
    ensure_topic(config)
    defects: dict[str, int] = {}

    def pairs() -> Iterator[tuple[bytes | None, bytes]]:
        for record in records:
            if record.defect:
                defects[record.defect] = defects.get(record.defect, 0) + 1
            event = record.event or {}
            key = event.get("order_id") or event.get("customer_id") or event.get("session_id")
            yield (key.encode() if key else None), record.line

    sent = produce(config, pairs(), rate)
    return SimulationOutput(sent, 0, defects)


def _write_with_progress(settings: Settings, spec: SimulationSpec) -> SimulationOutput:
    from salesflow.jobs.simulate import simulate_to_landing

    columns = (TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TextColumn("records"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("simulate", total=spec.events)
        return simulate_to_landing(settings, spec, on_progress=lambda n: progress.advance(task, n))
