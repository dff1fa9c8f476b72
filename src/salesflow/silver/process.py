"""Bronze batch -> Silver tables, quarantine and duplicates, reconciled before anything is written.

Each Bronze batch is processed on its own and written to every Silver table with the Delta
application transaction ``(salesflow.silver, batch_id)``. The dedupe state is read from Silver
rows of *earlier* batches only, so redoing a batch after a crash that wrote some tables but not
others computes exactly the same rows, and the tables already written are skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.common.parts import part
from salesflow.config import Settings
from salesflow.contract.bounds import UTC_OFFSET, line_rule_params
from salesflow.contract.events import CONTRACT_VERSION
from salesflow.contract.vocabulary import (
    CHANNELS,
    EVENT_TYPES,
    PAYMENT_METHODS,
    known_fields,
)
from salesflow.engine.base import EngineAdapter, Txn, WriteScope
from salesflow.errors import ModelError, ReconciliationError
from salesflow.lake.delta import Lake
from salesflow.lake.log import batch_rows
from salesflow.lake.tables import (
    BRONZE_EVENTS,
    DUPLICATES,
    QUARANTINE,
    SILVER_EVENT_TABLES,
    SILVER_ORDER_LINES,
    SILVER_ORDERS,
    SILVER_TABLES,
    TableSpec,
)
from salesflow.models import load_model, sql_literal
from salesflow.quality.gate import QualityGate
from salesflow.quality.results import write_results
from salesflow.redact import redact
from salesflow.silver.gates import SilverGates
from salesflow.silver.key_index import OLD_KEYS_SCHEMA, KeyIndex, RunStore
from salesflow.silver.quarantine_rate import judge_quarantine_rate
from salesflow.silver.state import SILVER_APP, SeenState

log = logging.getLogger(__name__)
STAGING = ("silver.parsed_events", "silver.parsed_lines", "silver.classified_events", "silver.seen_keys",
           "silver.deduped_events")
VIEWS = frozenset({"silver.classified_events"})
"""Staging kept as a view where the engine can: seven models read classified_events, each a few of
its columns and often one event type; a copy of every row cost DuckDB more than their joins, and
Spark the same (bench/RESULTS.md), without keeping the wide rows in executor storage."""
KEYED = frozenset({"silver.parsed_events", "silver.parsed_lines", "silver.deduped_events"})
"""Staging the classification and the outputs join on record_seq: kept by it (bench/RESULTS.md)."""
OUTPUTS: dict[TableSpec, str] = {spec: f"silver.{spec.name}" for spec in SILVER_TABLES}
RELATIONS: dict[TableSpec, str] = {spec: f"silver_batch_{spec.name}" for spec in SILVER_TABLES}
"""The engine relation each output of the batch in hand is kept as, until it is written."""


@dataclass(frozen=True)
class SilverBatch:
    """What one Bronze batch became."""

    batch_id: int
    bronze_rows: int
    events: dict[str, int]
    order_lines: int
    quarantined: dict[str, int]
    duplicates: int
    late: int
    drift: dict[str, int]
    seconds: float = 0.0
    money: dict[str, Decimal] = field(default_factory=dict)
    """Order totals of the batch as parsed from Bronze, and where they went: ``bronze`` =
    ``silver`` + ``quarantined`` + ``duplicates`` (a total that could not be parsed counts nowhere)."""
    money_days_differing: list[str] = field(default_factory=list)
    """Days (of the parsed event time; ``none`` for records without one) on which that equation
    fails although the batch's totals may hold: money that moved to another day."""

    @property
    def silver_events(self) -> int:
        return sum(self.events.values())

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def money_balanced(self) -> bool:
        m = self.money
        return not m or (m["bronze"] == m["silver"] + m["quarantined"] + m["duplicates"]
                         and not self.money_days_differing)

    @property
    def balanced(self) -> bool:
        return self.bronze_rows == self.silver_events + self.quarantined_total + self.duplicates and self.money_balanced


def silver_committed(lake: Lake) -> int:
    """Last Bronze batch present in every Silver table (-1 when none)."""
    return min(lake.txn_version(spec, SILVER_APP) for spec in SILVER_TABLES)


class SilverProcessor:
    def __init__(self, lake: Lake, engine: EngineAdapter, settings: Settings, gate: QualityGate | None = None) -> None:
        self.lake, self.engine, self.settings, self.gate = lake, engine, settings, gate
        self.state = SeenState(lake, settings.pipeline.dedupe_horizon_hours)
        self.key_dir = settings.checkpoint_dir / "silver-key-index"
        self.keys = KeyIndex(lake, self.key_dir) if engine.KEEPS_RESULTS_IN_PROCESS else None
        """Keys beyond the horizon: an in-process index where relations live here; an engine on a
        cluster reads every earlier key instead (``SeenState``), on its executors."""
        self.last_written: tuple[int, dict[TableSpec, str]] | None = None
        """The last batch's written relations, for Gold on this engine to take without a read."""

    def written(self, batch_id: int) -> dict[TableSpec, str] | None:
        return self.last_written[1] if self.last_written and self.last_written[0] == batch_id else None

    def committed(self) -> int:
        """Last Bronze batch present in every Silver table."""
        return silver_committed(self.lake)

    def pending_batches(self) -> list[int]:
        done = self.committed()
        files = self.lake.file_stats(BRONZE_EVENTS, "batch_id")
        if files is not None and files.num_rows == 0:
            return []
        if files is not None:  # a Bronze commit writes one file per batch: the log's statistics name them
            newer = files.filter(pc.greater(files["max.batch_id"], done))
            if pc.all(pc.equal(newer["min.batch_id"], newer["max.batch_id"])).as_py() in (True, None):
                return sorted(set(newer["min.batch_id"].to_pylist()))
        # A compacted file spans batches: read its ids (pruned to the newest files by the same statistics).
        return self.lake.distinct((BRONZE_EVENTS,), "batch_id", ds.field("batch_id") > done, prune=f"batch_id > {done}")

    def process(self, batch_id: int, bronze: pa.Table | None = None,
                durable: Callable[[], None] | None = None) -> SilverBatch:
        """Process one Bronze batch; ``bronze`` may hand over its rows (saves a read), and with them
        ``durable``, which waits until they are committed to Bronze: the batch is computed
        meanwhile, and nothing is checked or written before it returns."""
        return self._run(batch_id, bronze, durable=durable)

    def rebuild(self, batch_id: int, first: date | None = None, last: date | None = None) -> SilverBatch:
        """Recompute one Bronze batch exactly as ``process`` did and replace its rows: all of them
        (a replay), or only those dated ``first``..``last`` (a backfill). The whole batch is
        recomputed, because lateness and in-batch dedupe depend on all of it; the state still
        comes from earlier batches only."""
        if first is None or last is None:
            return self._run(batch_id, None, WriteScope.replace(f"batch_id = {batch_id}"))
        in_range = f"event_date >= '{first.isoformat()}' AND event_date <= '{last.isoformat()}'"
        return self._run(batch_id, None, WriteScope.replace(f"batch_id = {batch_id} AND {in_range}"), in_range)

    def _run(self, batch_id: int, bronze: pa.Table | None, rebuild: WriteScope | None = None,
             rows_in: str | None = None, durable: Callable[[], None] | None = None) -> SilverBatch:
        """``rebuild`` None: a first run, appended with the batch's transaction; else a replace of
        that scope with the rows matching ``rows_in`` (all when None)."""
        clock = time.perf_counter()
        bronze_rows = self._register_bronze(batch_id, bronze)
        with part("dedupe state"):
            self.state.register(self.engine, batch_id, self._oldest_plausible(), keep=rebuild is None)
        params = self._params()
        failed = False
        try:
            with part("silver models"):
                self._compute(batch_id, params)
        except ModelError as exc:
            if rebuild is not None or not self.settings.pipeline.quarantine_processing_errors \
                    or not self.engine.is_data_error(exc):
                raise
            self._quarantine_whole_batch(batch_id, params, exc)
            failed = True
        outputs = dict(RELATIONS)
        with part("waiting for bronze"):
            (durable or (lambda: None))()
        try:
            if self.gate is not None and not failed:  # Gates first: a blocking rule stops the batch before any write
                with part("gates"):
                    outputs = SilverGates(self.lake, self.engine, self.gate, batch_id).apply(outputs)
            with part("reconciliation"):
                result = self._summarize(batch_id, bronze_rows, outputs)
                self._reconcile(result)
            with part("gates"):
                if self.gate is not None:
                    judge_quarantine_rate(self.gate, self.settings.quality, result.batch_id, result.bronze_rows,
                                          result.quarantined, result.money)
            self.last_written = None
            with part("delta write"):
                self._write(batch_id, outputs, rebuild, rows_in)
            if rebuild is not None:  # keys may now be accepted under batches the index covers
                self._forget_keys()
            if rebuild is None:  # a rebuild may write only part of the rows
                self.last_written = (batch_id, outputs)
                with part("dedupe state"):
                    self.state.add(batch_id, outputs, self.engine)
                    if self.keys is not None:
                        self.keys.add(self.engine, batch_id, outputs)
        finally:
            if self.gate is not None:
                with part("gates"):
                    write_results(self.lake, self.gate.results)
                self.gate.results.clear()
        return SilverBatch(**{**vars(result), "seconds": time.perf_counter() - clock})

    def _compute(self, batch_id: int, params: dict[str, object]) -> None:
        for name in STAGING:
            if name == "silver.deduped_events":
                with part("dedupe state"):
                    self._register_old_keys(batch_id)
            self.engine.run_into(name.split(".")[1], load_model(name), view=name in VIEWS,
                                 key="record_seq" if name in KEYED else None, **params)
        for spec, name in OUTPUTS.items():
            self.engine.compute(RELATIONS[spec], load_model(name), **params)

    def _quarantine_whole_batch(self, batch_id: int, params: dict[str, object], exc: ModelError) -> None:
        """A data error no check foresaw (a value a SQL function cannot take) must not stop the
        stage for ever: the batch's records go to quarantine as ``processing_error`` with the
        error, every other output is empty, and the stage goes on. After a fix, ``salesflow replay``
        recomputes the batch from Bronze."""
        detail = redact(str(exc).splitlines()[0])[:500]
        log.error("silver batch %d: %s; its %d records go to quarantine as processing_error",
                  batch_id, detail, self.engine.rows("bronze_batch"))
        if self.gate is not None:
            self.gate.alerter.send(f"silver batch {batch_id} quarantined whole (processing_error)", [detail])
        self.engine.compute_sql("failed_bronze", "SELECT * FROM bronze_batch", "silver processing_error")
        self.engine.compute_sql("bronze_batch", "SELECT * FROM failed_bronze WHERE 1 = 0", "silver processing_error")
        self._compute(batch_id, params)  # every output empty and typed as usual
        self.engine.compute_sql(
            RELATIONS[QUARANTINE],
            "SELECT batch_id, record_seq, source, source_position, 'processing_error' AS reason, "  # noqa: S608 - a literal we quote
            f"{sql_literal(detail)} AS reason_detail, CAST(NULL AS VARCHAR) AS event_type, "
            "CAST(NULL AS VARCHAR) AS event_id, CAST(NULL AS DATE) AS event_date, payload, ingested_at "
            "FROM failed_bronze", "silver processing_error")
        self.engine.compute_sql("bronze_batch", "SELECT * FROM failed_bronze", "silver processing_error")

    def _reconcile(self, result: SilverBatch) -> None:
        """Refuse to write anything that would lose or double a record."""
        accounted = result.silver_events + result.quarantined_total + result.duplicates
        if self.gate is not None:
            check = self.gate.record("events", f"batch {result.batch_id}", "reconcile_bronze_silver",
                                     "reconciliation", "fail", abs(result.bronze_rows - accounted),
                                     [{"bronze": result.bronze_rows, "accounted": accounted}])
            if check.blocking:
                self.gate.alerter.send(f"silver batch {result.batch_id} does not reconcile", [str(check.sample)])
        if self.gate is not None and result.money:
            m = result.money
            sample: dict[str, object] = {k: str(v) for k, v in m.items()}
            if result.money_days_differing:
                sample["days_differing"] = result.money_days_differing[:10]
            self.gate.record("events", f"batch {result.batch_id}", "reconcile_bronze_silver_money", "reconciliation",
                             "fail", 0 if result.money_balanced else 1, [sample])
        if not result.money_balanced:
            m = result.money
            moved = result.money_days_differing
            days = f"; days differing: {', '.join(moved[:5])}" if moved else ""
            raise ReconciliationError(
                f"silver batch {result.batch_id} does not reconcile in money (bronze order totals = silver "
                f"{m['silver']} + quarantined {m['quarantined']} + duplicates {m['duplicates']}{days})",
                expected=m["bronze"], actual=m["silver"] + m["quarantined"] + m["duplicates"])
        if not result.balanced:
            raise ReconciliationError(
                f"silver batch {result.batch_id} does not reconcile (bronze = silver + quarantined + duplicates)",
                expected=result.bronze_rows, actual=accounted)

    def _register_bronze(self, batch_id: int, bronze: pa.Table | None) -> int:
        """The batch's Bronze rows as ``bronze_batch``: handed over by the ingestor that wrote them
        (they came through this process), or read from the table. Returns their count."""
        if bronze is not None:
            if bronze.num_rows and pc.min_max(bronze["batch_id"]).as_py() != {"min": batch_id, "max": batch_id}:
                raise ModelError(
                    f"silver batch {batch_id} was handed rows of other batches"
                )  # models key on record_seq
            self.engine.register("bronze_batch", bronze)
        elif not self.engine.read_table(self.lake, BRONZE_EVENTS, "bronze_batch", predicate=f"batch_id = {batch_id}"):
            raise ModelError("bronze.events must exist before silver runs")
        else:  # counted from the log where it can (a Spark job less); reconciliation checks it too
            logged = batch_rows(self.lake, BRONZE_EVENTS, batch_id)
            if logged is not None:
                return logged
        return self.engine.rows("bronze_batch")

    def _oldest_plausible(self) -> date | None:
        """The batch's oldest event day that can be accepted: a record dated in year 1 is quarantined
        as implausible_time, and must not send the dedupe state back to before the calendar."""
        earliest = self.settings.pipeline.earliest_event_time.date()
        found = self.engine.query(f"SELECT min(CASE WHEN event_date >= {sql_literal(earliest)} THEN event_date END) "  # noqa: S608 - a date literal from settings
                                  "AS oldest, count(event_date) AS dated FROM bronze_batch",
                                  "silver oldest event day").to_pylist()[0]
        return found["oldest"] if found["oldest"] is not None else (earliest if found["dated"] else None)

    def _register_old_keys(self, batch_id: int) -> None:
        """``old_keys``: this batch's keys that Silver accepted before the dedupe horizon (the
        horizon's own are in ``seen_keys``)."""
        if self.keys is None:
            self.engine.register("old_keys", OLD_KEYS_SCHEMA.empty_table())
            return
        self.engine.register("old_keys", self.keys.old_keys(self.engine, batch_id))

    def _params(self) -> dict[str, object]:
        pipeline = self.settings.pipeline
        watermark = self.engine.run(load_model("silver.watermark"),
                                    allowed_lateness_seconds=pipeline.allowed_lateness_seconds)
        return {
            "max_payload_bytes": pipeline.max_payload_bytes,
            "event_types": EVENT_TYPES,
            "channels": CHANNELS,
            "payment_methods": PAYMENT_METHODS,
            "contract_version": CONTRACT_VERSION,
            "reporting_currency": pipeline.reporting_currency,
            "reporting_timezone": pipeline.reporting_timezone,
            "order_fields": list(known_fields("order_created")),
            "view_fields": list(known_fields("product_viewed")),
            "cart_fields": list(known_fields("add_to_cart")),
            "watermark": watermark["watermark"][0].as_py(),
            "allowed_lateness_seconds": pipeline.allowed_lateness_seconds,
            "earliest_event_time": pipeline.earliest_event_time,
            "max_future_seconds": pipeline.max_future_seconds,
            **line_rule_params(pipeline.bounds),
            "utc_offset": UTC_OFFSET,
        }

    def _summarize(self, batch_id: int, bronze_rows: int, outputs: dict[TableSpec, str]) -> SilverBatch:
        """The batch's counts, asked of the engine (only they come back, never the rows)."""
        drift = self.engine.run(load_model("silver.schema_drift"))
        reasons = self.engine.query(f'SELECT reason, count(*) AS n FROM "{outputs[QUARANTINE]}" GROUP BY reason',  # noqa: S608 - our own relation names
                                    "silver summary")
        late = " UNION ALL ".join(f'SELECT sum(CASE WHEN late THEN 1 ELSE 0 END) AS n FROM "{outputs[spec]}"'  # noqa: S608 - our own relation names
                                  for spec in SILVER_EVENT_TABLES)
        return SilverBatch(
            batch_id=batch_id,
            bronze_rows=bronze_rows,
            events={spec.name: self.engine.rows(outputs[spec]) for spec in SILVER_EVENT_TABLES},
            order_lines=self.engine.rows(outputs[SILVER_ORDER_LINES]),
            quarantined=dict(zip(reasons["reason"].to_pylist(), reasons["n"].to_pylist(), strict=True)),
            duplicates=self.engine.rows(outputs[DUPLICATES]),
            late=sum(n or 0 for n in self.engine.query(late, "silver summary")["n"].to_pylist()),
            drift={f"{r['event_type']}.{r['field']}": r["events"] for r in drift.to_pylist()},
            **self._money(outputs),
        )

    def _money(self, outputs: dict[TableSpec, str]) -> dict[str, Any]:
        """The batch's order totals in each place, per day of the parsed event time and in all,
        from the totals Silver parsed (one pass over two columns of parsed_events and the few rows
        of quarantine and duplicates)."""
        days = self.engine.query(
            "WITH e AS (SELECT record_seq, event_date, total_amount FROM parsed_events "  # noqa: S608 - our own relation names
            "WHERE event_type = 'order_created'), "
            "b AS (SELECT e.event_date, sum(e.total_amount) AS bronze, "
            "sum(CASE WHEN q.record_seq IS NOT NULL THEN e.total_amount END) AS quarantined, "
            "sum(CASE WHEN d.record_seq IS NOT NULL THEN e.total_amount END) AS duplicates, "
            "sum(abs(e.total_amount)) AS bronze_gross, "
            "sum(CASE WHEN q.record_seq IS NOT NULL THEN abs(e.total_amount) END) AS quarantined_gross FROM e "
            f'LEFT JOIN (SELECT DISTINCT record_seq FROM "{outputs[QUARANTINE]}") q ON q.record_seq = e.record_seq '
            f'LEFT JOIN (SELECT DISTINCT record_seq FROM "{outputs[DUPLICATES]}") d ON d.record_seq = e.record_seq '
            "GROUP BY e.event_date), "
            f'o AS (SELECT event_date, sum(total_amount) AS silver FROM "{outputs[SILVER_ORDERS]}" '
            "GROUP BY event_date) "
            "SELECT coalesce(b.event_date, o.event_date) AS event_date, b.bronze, o.silver, b.quarantined, "
            "b.duplicates, b.bronze_gross, b.quarantined_gross "
            "FROM b FULL OUTER JOIN o ON b.event_date IS NOT DISTINCT FROM o.event_date",
            "silver money").to_pylist()
        # *_gross: the totals without their sign, so a share of money quarantined means the same
        # when returns (negative totals) are in the batch.
        totals = {k: sum((Decimal(d[k] or 0) for d in days), Decimal(0))
                  for k in ("bronze", "silver", "quarantined", "duplicates", "bronze_gross", "quarantined_gross")}
        places = ("silver", "quarantined", "duplicates")
        differing = [str(d["event_date"] or "none") for d in days
                     if Decimal(d["bronze"] or 0) != sum(Decimal(d[k] or 0) for k in places)]
        return {"money": totals, "money_days_differing": sorted(differing)}

    def _forget_keys(self) -> None:
        if self.keys is not None:
            self.keys.forget()
        else:  # this engine keeps no index, but a process on another engine may have kept one
            RunStore(self.key_dir).clear()

    def _write(self, batch_id: int, outputs: dict[TableSpec, str], rebuild: WriteScope | None,
               rows_in: str | None) -> None:
        """Every Silver table in one commit each, side by side: appended with the batch's
        transaction on a first run; on a rebuild, the scope replaced by the rows in range."""
        if rebuild is None:
            self.engine.write_tables(self.lake, {spec: (rel, WriteScope.append()) for spec, rel in outputs.items()},
                                     Txn(SILVER_APP, batch_id), metadata={"salesflow.bronze_batch": str(batch_id)})
            return
        if rows_in is not None:
            for spec, rel in list(outputs.items()):
                self.engine.compute_sql(f"{rel}_in_range", f'SELECT * FROM "{rel}" WHERE {rows_in}',  # noqa: S608 - our own names and dates
                                        "silver rebuild")
                outputs[spec] = f"{rel}_in_range"
        self.engine.write_tables(self.lake, {spec: (rel, rebuild) for spec, rel in outputs.items()}, None)

