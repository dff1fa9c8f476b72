"""``salesflow simulate`` into the landing log: reference data, then the events as segments."""

from __future__ import annotations

from collections.abc import Callable

from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.simulator import SimulationSpec, build_catalog, simulate
from salesflow.simulator.output import SimulationOutput, write_reference, write_to_landing
from salesflow.sources.landing import LandingLog


def simulate_to_landing(ctx: RunContext | Settings, spec: SimulationSpec,
                        on_progress: Callable[[int], None] | None = None) -> SimulationOutput:
    """Deterministic shop traffic (``spec``) into the landing log; the catalogue it sells from
    lands as reference data first."""
    settings = as_context(ctx).settings
    landing = LandingLog(settings.landing_dir)
    catalog = build_catalog(spec.seed)
    write_reference(landing, catalog)
    return write_to_landing(landing, simulate(spec, catalog), settings.landing.segment_records,
                            on_progress=on_progress)
