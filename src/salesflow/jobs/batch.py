"""``salesflow batch``: everything new in a Bronze source (the landing log by default) through
Bronze, Silver and Gold; the steps are the runner's (``pipeline.runner``)."""

from __future__ import annotations

from collections.abc import Callable

from salesflow.bronze.landing_ingest import pending_segments
from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.engine.base import EngineAdapter
from salesflow.gold.status import sample_gold_record
from salesflow.lake.delta import Lake
from salesflow.ops import lineage
from salesflow.pipeline.runner import (
    BatchRun,
    BronzeSource,
    ProgressFn,
    Runner,
    landing_checkpoint,
    landing_source,
)
from salesflow.sources.landing import LandingLog


@lineage.traced("batch", (lineage.LANDING,), lineage.PIPELINE)
def run_batch(ctx: RunContext | Settings, progress: ProgressFn | None = None,
              bronze: Callable[[Lake, EngineAdapter], BronzeSource] | None = None, *,
              sample: bool = False) -> BatchRun:
    """Run the batch pipeline; ``bronze`` builds another Bronze source than the landing log.
    ``sample``: also pick the Gold record the CLI shows, on the same engine (a second Spark
    session cost seconds)."""
    ctx = as_context(ctx)
    with ctx.engine() as engine:
        source = (bronze or (lambda lake, eng: landing_source(ctx.settings, lake, eng)))(ctx.lake, engine)
        run = Runner(ctx, engine, source, progress).run()
        if sample:
            run.sample = sample_gold_record(ctx.lake, engine)
        return run


def pending_records(ctx: RunContext | Settings) -> int:
    """Records in the landing segments not yet in Bronze: the total a progress bar counts to."""
    settings = as_context(ctx).settings
    segments = pending_segments(LandingLog(settings.landing_dir), landing_checkpoint(settings))
    return sum(s.path.read_bytes().count(b"\n") for s in segments)
