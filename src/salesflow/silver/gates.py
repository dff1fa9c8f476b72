"""Silver's quality gates for one batch: check, block, quarantine, and record the contract's verdicts."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    DUPLICATES,
    QUARANTINE,
    REFERENCE_TABLES,
    SILVER_CART_ADDS,
    SILVER_EVENT_TABLES,
    SILVER_ORDER_LINES,
    SILVER_ORDERS,
    SILVER_PRODUCT_VIEWS,
    TableSpec,
)
from salesflow.models import load_model
from salesflow.quality.gate import QualityGate


class SilverGates:
    """Applies the Silver suite to one batch's outputs, before anything is written."""

    CHECKED = (SILVER_ORDERS, SILVER_ORDER_LINES, SILVER_PRODUCT_VIEWS, SILVER_CART_ADDS)

    def __init__(self, lake: Lake, engine: EngineAdapter, gate: QualityGate, batch_id: int) -> None:
        self.lake, self.engine, self.gate, self.batch_id = lake, engine, gate, batch_id
        self.partition = f"batch {batch_id}"

    def apply(self, outputs: dict[TableSpec, pa.Table]) -> dict[TableSpec, pa.Table]:
        self._register(outputs)
        checked = [r for spec in self.CHECKED
                   for r in self.gate.check(spec.name, f"check_{spec.name}", self.partition, self._history(spec, outputs))]
        self.gate.enforce(checked, f"silver batch {self.batch_id}")
        outputs = self._quarantine(outputs, {r.table_name for r in checked if r.action == "quarantine" and not r.passed})
        self._record_contract(outputs)
        return outputs

    def _register(self, outputs: dict[TableSpec, pa.Table]) -> None:
        for spec in self.CHECKED:
            self.engine.register(f"check_{spec.name}", outputs[spec])
        for name, spec in REFERENCE_TABLES.items():
            table = self.lake.snapshot(spec)
            self.engine.register(f"ref_{name}", table if table is not None else _EMPTY_REFERENCE[name].empty_table())

    def _history(self, spec: TableSpec, outputs: dict[TableSpec, pa.Table]) -> str | None:
        """Row counts per day of this batch and the earlier ones, from 7 days before its dates on."""
        if not any(rule.kind == "volume" for rule in self.gate.suite.get(spec.name, [])):
            return None
        dates = pc.min_max(outputs[spec]["event_date"]).as_py()
        if dates["min"] is None:
            return None
        first_day = dates["min"] - timedelta(days=7)
        mine = outputs[spec].group_by("event_date").aggregate([("event_date", "count")])
        parts = [mine.rename_columns(["event_date", "rows"]), self._earlier_counts(spec, first_day)]
        self.engine.register(f"history_{spec.name}", pa.concat_tables(parts))
        return f"history_{spec.name}"

    def _earlier_counts(self, spec: TableSpec, first_day: date) -> pa.Table:
        """Per day from ``first_day``, the rows earlier batches wrote: from the Delta log's per-file
        record counts when every file lies wholly before this batch (the stream's case), else by
        reading the column (a replay, where files can hold this batch and later ones)."""
        files = self.lake.file_stats(spec, "batch_id")
        empty = pa.table({"event_date": pa.array([], pa.date32()), "rows": pa.array([], pa.int64())})
        if files is not None and files.num_rows == 0:
            return empty
        if files is not None and "num_records" in files.column_names:
            recent = files.filter(pc.greater_equal(files["partition.event_date"], pa.scalar(first_day, pa.date32())))
            if pc.all(pc.less(recent["max.batch_id"], self.batch_id)).as_py() in (True, None):
                counts = recent.group_by("partition.event_date").aggregate([("num_records", "sum")])
                return pa.table({"event_date": counts["partition.event_date"],
                                 "rows": pc.cast(counts["num_records_sum"], pa.int64())})
        keep = (ds.field("batch_id") < self.batch_id) & (ds.field("event_date") >= first_day)
        prune = f"batch_id < {self.batch_id} AND event_date >= '{first_day.isoformat()}'"
        earlier = self.lake.read(spec, columns=["event_date"], filter=keep, prune=prune)
        if earlier is None or earlier.num_rows == 0:
            return empty
        counts = earlier.group_by("event_date").aggregate([("event_date", "count")])
        return counts.rename_columns(["event_date", "rows"])

    def _quarantine(self, outputs: dict[TableSpec, pa.Table], failing: set[str]) -> dict[TableSpec, pa.Table]:
        """Move the rows that broke a quarantine rule; only tables where one found rows are asked
        which (the check has counted every rule: a clean micro-batch pays no query here)."""
        specs = [s for s in self.CHECKED if s.name in failing]
        if not specs:
            return outputs
        found = pa.concat_tables([self.gate.quarantined_events(s.name, f"check_{s.name}") for s in specs])
        if found.num_rows == 0:
            return outputs
        first = found.group_by("event_id", use_threads=False).aggregate([("rule", "first")]).rename_columns(["event_id", "rule"])
        self.engine.register("gate_quarantine", first)
        moved = self.engine.run(load_model("silver.gate_quarantine"))
        drop = first["event_id"]
        kept = {spec: rows.filter(pc.invert(pc.is_in(rows["event_id"], drop)))
                for spec, rows in outputs.items() if spec in (*SILVER_EVENT_TABLES, SILVER_ORDER_LINES)}
        return {**outputs, **kept, QUARANTINE: pa.concat_tables([outputs[QUARANTINE], moved.cast(outputs[QUARANTINE].schema)])}

    def _record_contract(self, outputs: dict[TableSpec, pa.Table]) -> None:
        """The contract's own verdicts, as rules: every rejected record is accounted for by rule."""
        quarantine = outputs[QUARANTINE]
        reasons = Counter(zip(quarantine["reason"].to_pylist(), quarantine["reason_detail"].to_pylist(), strict=True))
        by_rule: Counter[str] = Counter()
        for (reason, detail), count in reasons.items():
            by_rule[reason if detail == "quality_gate" else f"contract.{reason}"] += count
        for rule, count in sorted(by_rule.items()):
            if not rule.startswith("contract."):
                continue
            sample = [{"reason": rule, "source_position": p} for p in
                      quarantine.filter(pc.equal(quarantine["reason"], rule.removeprefix("contract.")))["source_position"]
                      .to_pylist()[: self.gate.sample_rows]]
            self.gate.record("events", self.partition, rule, "contract", "quarantine", count, sample)
        duplicates = outputs[DUPLICATES]
        for key, count in sorted(Counter(duplicates["duplicate_key"].to_pylist()).items()):
            self.gate.record("events", self.partition, f"dedupe.{key}", "dedupe", "drop", count)


_EMPTY_REFERENCE = {
    "products": pa.schema([("product_id", pa.string()), ("category", pa.string())]),
    "customers": pa.schema([("customer_id", pa.string())]),
    "stores": pa.schema([("store_id", pa.string())]),
}
