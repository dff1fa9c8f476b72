"""``salesflow simulate``: generate traffic into the landing log, with a progress bar."""

from __future__ import annotations

from datetime import date

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from salesflow.context import RunContext
from salesflow.jobs.simulate import now, simulate_paced, simulate_to_kafka, simulate_to_landing
from salesflow.simulator import DefectRates, SimulationSpec
from salesflow.simulator.output import SimulationOutput


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


def run_simulation(console: Console, ctx: RunContext, *, events: int | None, rate: float | None,
                   duration: float | None, seed: int, start: date, days: int, defects: tuple[str, ...],
                   clean: bool, target: str) -> SimulationOutput:
    """Check the options, run the simulation job that fits them, print what it made."""
    if target != "landing" and not target.startswith("kafka://"):
        raise click.BadParameter(f"{target!r}: use landing or kafka://HOST:PORT/TOPIC", param_hint="--to")
    if (rate is None) != (duration is None):
        raise click.UsageError("--rate and --duration go together")
    if rate is not None and events is not None:
        raise click.UsageError("use either --events or --rate/--duration")
    rates = parse_defects(defects, clean)
    paced = rate is not None and duration is not None
    spec = SimulationSpec(events=int(rate * duration) if rate and duration else 200_000 if events is None else events,
                          seed=seed, start=start, days=days, defects=rates,
                          realtime_from=now() if paced else None, realtime_seconds=duration or 0.0)
    if target.startswith("kafka://"):
        output = simulate_to_kafka(ctx, target, spec, rate)
        where = target
    else:
        output = simulate_paced(ctx, spec) if paced else _with_progress(ctx, spec)
        where = f"{output.segments} segment(s) at {ctx.settings.landing_dir}"
    console.print(f"simulated {output.records:,} records into {where}; "
                  f"defects: {output.defects or 'none'}", highlight=False)
    return output


def _with_progress(ctx: RunContext, spec: SimulationSpec) -> SimulationOutput:
    columns = (TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TextColumn("records"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("simulate", total=spec.events)
        return simulate_to_landing(ctx, spec, on_progress=lambda n: progress.advance(task, n))
