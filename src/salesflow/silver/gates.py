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

    def apply(self, outputs: dict[TableSpec, str]) -> dict[TableSpec, str]:
        """``outputs``: the batch's relation per Silver table; returns them with the rows a
        quarantine rule caught moved to the quarantine relation."""
        self._register(outputs)
        checked = [
            r
            for spec in self.CHECKED
            for r in self.gate.check(spec.name, f"check_{spec.name}", self.partition, self._history(spec, outputs))
        ]
        self.gate.enforce(checked, f"silver batch {self.batch_id}")
        outputs = self._quarantine(
            outputs, {r.table_name for r in checked if r.action == "quarantine" and not r.passed}
        )
        self._record_contract(outputs)
        return outputs

    def _register(self, outputs: dict[TableSpec, str]) -> None:
        for spec in self.CHECKED:
            self.engine.alias(f"check_{spec.name}", outputs[spec])
        for name, spec in REFERENCE_TABLES.items():
            self.engine.read_table(self.lake, spec, f"ref_{name}", empty=_EMPTY_REFERENCE[name], small=True)

    def _history(self, spec: TableSpec, outputs: dict[TableSpec, str]) -> str | None:
        """Row counts per day of this batch and the earlier ones, from 7 days before its dates on."""
        if not any(rule.kind == "volume" for rule in self.gate.suite.get(spec.name, [])):
            return None
        mine = self.engine.query(f'SELECT event_date, count(*) AS "rows" FROM "{outputs[spec]}" '  # noqa: S608 - our own relation name
                                 f"WHERE event_date IS NOT NULL GROUP BY event_date", "silver gate history")
        if mine.num_rows == 0:
            return None
        first_day = pc.min(mine["event_date"]).as_py() - timedelta(days=7)
        mine = pa.table({"event_date": mine["event_date"].cast(pa.date32()), "rows": mine["rows"].cast(pa.int64())})
        parts = [mine, self._earlier_counts(spec, first_day)]
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

    def _quarantine(self, outputs: dict[TableSpec, str], failing: set[str]) -> dict[TableSpec, str]:
        """Move the rows that broke a quarantine rule; only tables where one found rows are asked
        which (the check has counted every rule: a clean micro-batch pays no query here)."""
        specs = [s for s in self.CHECKED if s.name in failing]
        if not specs:
            return outputs
        found = pa.concat_tables([self.gate.quarantined_events(s.name, f"check_{s.name}") for s in specs])
        if found.num_rows == 0:
            return outputs
        first = (
            found.group_by("event_id", use_threads=False)
            .aggregate([("rule", "first")])
            .rename_columns(["event_id", "rule"])
        )
        self.engine.register("gate_quarantine", first)
        quarantine = outputs[QUARANTINE]
        moved = self.engine.run(load_model("silver.gate_quarantine")).cast(self.engine.schema(quarantine))
        self.engine.register("gate_moved", moved)  # a few rows: those a rule caught
        kept = {}
        for spec, relation in outputs.items():
            if spec in (*SILVER_EVENT_TABLES, SILVER_ORDER_LINES):
                kept[spec] = f"{relation}_gated"
                self.engine.compute_sql(kept[spec], f'SELECT * FROM "{relation}" WHERE event_id IS NULL OR '  # noqa: S608 - our own relation names
                                        f"event_id NOT IN (SELECT event_id FROM gate_quarantine)", "silver gate")
        self.engine.compute_sql(
            f"{quarantine}_gated",
            f'SELECT * FROM "{quarantine}" UNION ALL SELECT * FROM gate_moved',  # noqa: S608 - our own relation names
            "silver gate",
        )
        return {**outputs, **kept, QUARANTINE: f"{quarantine}_gated"}

    def _record_contract(self, outputs: dict[TableSpec, str]) -> None:
        """The contract's own verdicts, as rules: every rejected record is accounted for by rule."""
        quarantine = outputs[QUARANTINE]
        reasons = self.engine.query(f'SELECT reason, reason_detail, count(*) AS n FROM "{quarantine}" '  # noqa: S608 - our own relation name
                                    f"GROUP BY reason, reason_detail", "silver contract verdicts").to_pylist()
        by_rule: Counter[str] = Counter()
        for row in reasons:
            by_rule[row["reason"] if row["reason_detail"] == "quality_gate" else f"contract.{row['reason']}"] += row[
                "n"
            ]
        contract = sorted(rule for rule in by_rule if rule.startswith("contract."))
        samples = self._samples(quarantine, [rule.removeprefix("contract.") for rule in contract])
        for rule in contract:
            sample = [{"reason": rule, "source_position": p} for p in samples.get(rule.removeprefix("contract."), [])]
            self.gate.record("events", self.partition, rule, "contract", "quarantine", by_rule[rule], sample)
        duplicates = self.engine.query(f'SELECT duplicate_key, count(*) AS n FROM "{outputs[DUPLICATES]}" '  # noqa: S608 - our own relation name
                                       f"GROUP BY duplicate_key", "silver dedupe verdicts").to_pylist()
        for row in sorted(duplicates, key=lambda r: str(r["duplicate_key"])):
            self.gate.record("events", self.partition, f"dedupe.{row['duplicate_key']}", "dedupe", "drop", row["n"])

    def _samples(self, quarantine: str, reasons: list[str]) -> dict[str, list[str]]:
        """The first ``sample_rows`` source positions of each reason, in the batch's record order."""
        if not reasons:
            return {}
        found = self.engine.query(
            f"SELECT reason, source_position FROM (SELECT reason, source_position, row_number() OVER "  # noqa: S608 - our own relation name
            f'(PARTITION BY reason ORDER BY record_seq) AS n FROM "{quarantine}") '
            f"WHERE n <= {int(self.gate.sample_rows)} "
            f"ORDER BY reason, n",
            "silver contract samples",
        ).to_pylist()
        out: dict[str, list[str]] = {}
        for row in found:
            out.setdefault(row["reason"], []).append(row["source_position"])
        return out


_EMPTY_REFERENCE = {
    "products": pa.schema([("product_id", pa.string()), ("category", pa.string())]),
    "customers": pa.schema([("customer_id", pa.string())]),
    "stores": pa.schema([("store_id", pa.string())]),
}
