"""The runner: Bronze batches from one source through Silver and Gold (``salesflow batch``, the stream).

Step 1. Load reference data (only when it changed); rebuild the Gold days of products it recategorised.
Step 2. Finish Silver and Gold for any Bronze batch a previous run left behind.
Step 3. For each new Bronze batch: write Bronze, then Silver (reconciled first), then Gold.
Step 4. Check the whole lake reconciles, and append the run to ``ops.pipeline_runs``.
Each step is idempotent, so running the command again after any stop changes nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from salesflow.bronze import BronzeBatch, LandingIngestor
from salesflow.bronze.oversized import payload_limit
from salesflow.common.parts import part, timed_iter
from salesflow.config import Settings
from salesflow.context import RunContext
from salesflow.engine.base import EngineAdapter
from salesflow.errors import ReconciliationError
from salesflow.gold import GoldBuilder
from salesflow.gold.restate import Restatement, restate_categories
from salesflow.lake.delta import Lake
from salesflow.pipeline.reconcile import Reconciliation, reconcile_finished
from salesflow.pipeline.runs import RunRecord, record_run
from salesflow.silver import SilverBatch, SilverProcessor
from salesflow.silver.reference import ReferenceLoad, load_reference
from salesflow.sources.checkpoint import SourceCheckpoint
from salesflow.sources.landing import LandingLog

log = logging.getLogger(__name__)
ProgressFn = Callable[[str, int], None]
"""Called with (stage, records) as work completes: ``bronze``, ``silver``, ``gold``."""


class BronzeSource(Protocol):
    def batches(self) -> Iterator[BronzeBatch]: ...


@dataclass
class BatchRun:
    """What one ``batch`` invocation did."""

    run_id: str
    references: list[ReferenceLoad] = field(default_factory=list)
    restated: Restatement = field(default_factory=Restatement)
    """Gold days rebuilt because the reference data changed products' categories."""
    bronze_rows: int = 0
    silver: list[SilverBatch] = field(default_factory=list)
    gold_rows: Counter[str] = field(default_factory=Counter)
    reconciliation: Reconciliation | None = None
    seconds: float = 0.0
    sample: dict[str, Any] | None = None
    """A Gold record to show, when the caller asked for one (``run_batch(sample=True)``)."""

    @property
    def batches(self) -> list[int]:
        return [s.batch_id for s in self.silver]

    def total(self, attribute: str) -> int:
        return sum(getattr(s, attribute) for s in self.silver)

    @property
    def quarantined_by_reason(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for batch in self.silver:
            counts.update(batch.quarantined)
        return dict(counts.most_common())

    @property
    def money(self) -> dict[str, Decimal]:
        """Order totals parsed from Bronze and where they went, over the run's Silver batches."""
        totals: dict[str, Decimal] = {}
        for batch in self.silver:
            for key, value in batch.money.items():
                totals[key] = totals.get(key, Decimal(0)) + value
        return totals

    @property
    def schema_drift(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for batch in self.silver:
            counts.update(batch.drift)
        return dict(counts.most_common())


def landing_checkpoint(settings: Settings) -> SourceCheckpoint:
    return SourceCheckpoint.load(settings.checkpoint_dir / "landing.json")


def landing_source(settings: Settings, lake: Lake, engine: EngineAdapter) -> LandingIngestor:
    """The default Bronze source: the landing log, from its checkpoint on."""
    return LandingIngestor(lake, engine, LandingLog(settings.landing_dir), landing_checkpoint(settings),
                           settings.pipeline.batch_bytes(in_process=engine.KEEPS_RESULTS_IN_PROCESS),
                           payload_limit(settings))


class Runner:
    """Bronze -> Silver -> Gold for every batch its Bronze source yields, on one engine."""

    def __init__(self, ctx: RunContext, engine: EngineAdapter, bronze: BronzeSource | None,
                 progress: ProgressFn | None = None) -> None:
        """``bronze`` None: a runner that only carries Bronze batches written elsewhere (a Spark
        job's foreachBatch) through Silver and Gold."""
        self.settings, self.lake, self.engine = ctx.settings, ctx.lake, engine
        self.progress: ProgressFn = progress or (lambda stage, n: None)
        self.landing = LandingLog(self.settings.landing_dir)
        self.bronze = bronze
        self.run_id = ctx.run_id
        self.silver = SilverProcessor(self.lake, engine, self.settings, ctx.gate(engine, "silver"))
        self.gold = GoldBuilder(self.lake, engine, ctx.gate(engine, "gold"))

    def run(self) -> BatchRun:
        started, clock = datetime.now(UTC), time.perf_counter()
        result = BatchRun(run_id=self.run_id)
        with part("reference data"):
            result.references = load_reference(self.lake, self.landing)  # Step 1.
            moved = tuple(sorted({p for load in result.references for p in load.recategorised}))
            result.restated = restate_categories(self.lake, self.engine, self.gold.gate, moved)
        self.downstream(result)  # Step 2.
        bronze_batches = self.bronze.batches() if self.bronze is not None else iter(())
        for bronze in timed_iter("waiting for bronze", bronze_batches):  # Step 3.
            result.bronze_rows += bronze.rows
            self.progress("bronze", bronze.rows)
            self.downstream(result, handover=bronze)
        with part("reconciliation"):
            result.reconciliation = reconcile_finished(self.lake)  # Step 4.
        result.seconds = time.perf_counter() - clock
        if result.silver:
            with part("run log"):
                record_run(self.lake, run_record(result, started, self.settings.engine.name, "batch"))
        if not result.reconciliation.balanced:
            rec = result.reconciliation
            raise ReconciliationError("lake does not reconcile (bronze = silver + quarantined + duplicates)",
                                      expected=rec.bronze, actual=rec.accounted)
        return result

    def downstream(self, result: BatchRun, handover: BronzeBatch | None = None) -> None:
        """Silver for every Bronze batch not yet in Silver, then Gold for every batch not in Gold.
        With a ``handover``, only up to that batch: the next may already be in Bronze (it is
        ingested ahead) and comes with its own handover."""
        pending = self.silver.pending_batches()
        if handover is not None:  # its commit may still be on its way (BronzeBatch.commit)
            pending = sorted({b for b in pending if b < handover.batch_id} | {handover.batch_id})
        for batch_id in pending:
            handed = handover if handover is not None and handover.batch_id == batch_id else None
            silver = self.silver.process(batch_id, handed.table if handed else None,
                                         durable=handed.durable if handed else None)
            result.silver.append(silver)
            self.progress("silver", silver.bronze_rows)
            log.info("silver batch %d: bronze=%d silver=%d quarantined=%d duplicates=%d late=%d in %.2f s",
                     batch_id, silver.bronze_rows, silver.silver_events, silver.quarantined_total,
                     silver.duplicates, silver.late, silver.seconds)
        for batch_id in self.gold.pending_batches(self.silver.committed()):
            clock = time.perf_counter()
            with part("gold models"):
                gold = self.gold.build(batch_id, self.silver.written(batch_id))
            result.gold_rows.update(gold.rows)
            self.progress("gold", sum(s.bronze_rows for s in result.silver if s.batch_id == batch_id))
            log.info("gold batch %d: folded into %d table(s) over %d day(s) in %.2f s", batch_id,
                     gold.written_tables, len(gold.event_dates), time.perf_counter() - clock)


def run_record(result: BatchRun, started: datetime, engine: str, command: str) -> RunRecord:
    rec = result.reconciliation
    assert rec is not None  # noqa: S101 - type narrowing
    return RunRecord(
        run_id=result.run_id, command=command, engine=engine, started_at=started,
        finished_at=datetime.now(UTC), first_batch=min(result.batches), last_batch=max(result.batches),
        bronze_rows=result.total("bronze_rows"), silver_events=result.total("silver_events"),
        quarantined=result.total("quarantined_total"), duplicates=result.total("duplicates"),
        late_events=result.total("late"), balanced=rec.balanced and all(s.balanced for s in result.silver),
        quarantined_by_reason=result.quarantined_by_reason, schema_drift=result.schema_drift,
        status="ok" if rec.balanced else "unbalanced",
    )
