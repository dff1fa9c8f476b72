"""``salesflow backfill --from D1 --to D2 [--layers silver,gold,warehouse]``: rebuild a date range.

Silver: every Bronze batch holding events dated in the range is recomputed, oldest first, exactly
as it was first processed (same models, same gates, dedupe state from earlier batches only, which
this backfill has already rewritten where they fall in the range), and only its rows in the range
are replaced. So an untouched lake comes out identical, and a damaged range is restored.
Gold: the range's partitions are recomputed from Silver. Warehouse: the range is reloaded.

Resumable: progress is kept in ``checkpoints/backfill.json``; a rerun with the same arguments
skips the Silver batches already rebuilt. Every step is a replace, so redoing one is harmless.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow.dataset as ds

from salesflow.common.files import atomic_write
from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.engine.base import EngineAdapter
from salesflow.errors import NothingYetError, ParameterError
from salesflow.gold import GoldBuilder
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.log import commits
from salesflow.lake.tables import BRONZE_EVENTS, SILVER_EVENT_TABLES
from salesflow.ops import lineage
from salesflow.silver import SilverProcessor

log = logging.getLogger(__name__)
LAYERS = ("silver", "gold", "warehouse")


@dataclass
class Backfill:
    first: date
    last: date
    layers: tuple[str, ...]
    silver_batches: list[int] = field(default_factory=list)
    skipped_batches: list[int] = field(default_factory=list)
    gold_rows: dict[str, int] = field(default_factory=dict)
    warehouse_rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def facts(self) -> dict[str, object]:
        return {"from": str(self.first), "to": str(self.last), "layers": list(self.layers),
                "silver_batches_rebuilt": self.silver_batches, "silver_batches_skipped": self.skipped_batches,
                "gold_rows": self.gold_rows, "warehouse_rows": self.warehouse_rows, "seconds": round(self.seconds, 2)}

    def replay_facts(self) -> dict[str, object]:
        return {"silver_batches_rebuilt": self.silver_batches, "dates": [str(self.first), str(self.last)],
                "gold_rows": self.gold_rows, "warehouse_rows": self.warehouse_rows, "seconds": round(self.seconds, 2)}


@lineage.traced("backfill", lineage.BRONZE, (*lineage.SILVER, *lineage.GOLD, *lineage.WAREHOUSE))
def backfill(ctx: RunContext | Settings, first: date, last: date, layers: tuple[str, ...] = LAYERS,
             progress: Callable[[str, int, int], None] | None = None) -> Backfill:
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown or first > last:
        raise ParameterError(f"backfill needs --from <= --to and layers from {', '.join(LAYERS)} (got {unknown})")
    ctx = as_context(ctx)
    settings, lake = ctx.settings, ctx.lake
    clock = time.perf_counter()
    result = Backfill(first, last, layers)
    state_path = settings.checkpoint_dir / "backfill.json"
    key = {"from": first.isoformat(), "to": last.isoformat(), "layers": list(layers)}
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    done: list[int] = state.get("silver_done", []) if state.get("key") == key else []
    report = progress or (lambda stage, n, total: None)
    with ctx.engine() as engine:
        if "silver" in layers:
            silver = _silver(ctx, engine)
            batches = _bronze_batches(lake, first, last, silver.committed())
            for i, batch_id in enumerate(batches):
                if batch_id in done:
                    result.skipped_batches.append(batch_id)
                else:
                    silver.rebuild(batch_id, first, last)
                    done.append(batch_id)
                    atomic_write(state_path, json.dumps({"key": key, "silver_done": done}).encode())
                    result.silver_batches.append(batch_id)
                report("silver", i + 1, len(batches))
        if "gold" in layers:
            dates = tuple(lake.distinct(SILVER_EVENT_TABLES, "event_date",
                                        (ds.field("event_date") >= first) & (ds.field("event_date") <= last)))
            result.gold_rows = _gold(ctx, engine, dates)
            report("gold", 1, 1)
    if "warehouse" in layers:
        result.warehouse_rows = load_warehouse(ctx, date_from=first, date_to=last).staged
        report("warehouse", 1, 1)
    atomic_write(state_path, json.dumps({"key": key, "silver_done": done, "finished": True}).encode())
    result.seconds = time.perf_counter() - clock
    return result


def _silver(ctx: RunContext, engine: EngineAdapter) -> SilverProcessor:
    """Silver with the same gates as a first run: rebuilt rows must be the rows it would write."""
    return SilverProcessor(ctx.lake, engine, ctx.settings, ctx.gate(engine, "silver"))


def _gold(ctx: RunContext, engine: EngineAdapter, dates: tuple[date, ...]) -> dict[str, int]:
    if not dates:
        return {}
    gold = GoldBuilder(ctx.lake, engine, ctx.gate(engine, "gold"))
    return gold.rebuild(dates)


def _bronze_batches(lake: Lake, first: date, last: date, silver_done: int) -> list[int]:
    """Bronze batches with an event dated in the range (by Bronze's own read of event_time).

    A day's margin on each side: Bronze dates an event by its event_time as written, Silver by
    the parsed instant in UTC, and the two can differ by a day for a non-UTC offset."""
    keep = ((ds.field("event_date") >= first - timedelta(days=1)) & (ds.field("event_date") <= last + timedelta(days=1))
            & (ds.field("batch_id") <= silver_done))
    return [int(b) for b in lake.distinct((BRONZE_EVENTS,), "batch_id", keep)]


@lineage.traced("replay", lineage.BRONZE, (*lineage.SILVER, *lineage.GOLD, *lineage.WAREHOUSE))
def replay(
    ctx: RunContext | Settings, from_version: int, progress: Callable[[str, int, int], None] | None = None
) -> Backfill:
    """Rebuild everything downstream of Bronze commits from version ``from_version`` on: their Silver
    rows (whole batches, oldest first), the Gold partitions they touch, and that warehouse range."""
    ctx = as_context(ctx)
    lake = ctx.lake
    newest = lake.version(BRONZE_EVENTS)
    if newest is None:
        raise NothingYetError("Bronze is empty, so there is nothing to replay: run `salesflow batch` first")
    if from_version < 0 or from_version > newest:
        raise ParameterError(f"--from-bronze-version must be between 0 and the Bronze version ({newest})")
    report = progress or (lambda stage, n, total: None)
    clock = time.perf_counter()
    batches = sorted({int(c["salesflow.batch_id"]) for c in commits(lake, BRONZE_EVENTS)
                      if c.get("version", -1) >= from_version and "salesflow.batch_id" in c})
    with ctx.engine() as engine:
        silver = _silver(ctx, engine)
        batches = [b for b in batches if b <= silver.committed()]  # newer ones are simply pending
        for i, batch_id in enumerate(batches):
            silver.rebuild(batch_id)
            report("silver", i + 1, len(batches))
        dates = tuple(lake.distinct(SILVER_EVENT_TABLES, "event_date", ds.field("batch_id").isin(batches))) \
            if batches else ()
        result = Backfill(min(dates) if dates else date.today(), max(dates) if dates else date.today(), LAYERS,
                          silver_batches=batches)
        result.gold_rows = _gold(ctx, engine, dates)
        report("gold", 1, 1)
    if dates:
        result.warehouse_rows = load_warehouse(ctx, date_from=min(dates), date_to=max(dates)).staged
    report("warehouse", 1, 1)
    result.seconds = time.perf_counter() - clock
    return result
