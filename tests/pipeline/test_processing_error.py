"""A data error no check foresaw does not stop Silver for ever (#28): the batch's records go to
quarantine as processing_error with the error, the stage goes on, and `replay` recomputes the batch
once the cause is fixed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from salesflow.config import load_settings
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.errors import ModelError
from salesflow.jobs import run_batch
from salesflow.jobs.backfill import replay
from salesflow.jobs.lake import reconcile
from salesflow.lake.tables import QUARANTINE, SILVER_ORDERS
from salesflow.simulator import SimulationSpec
from salesflow.sources.landing import LandingLog
from tests.conftest import land
from tests.pipeline.lakeview import rows

POISON = {"event_type": "order_created", "schema_version": 1, "event_id": "poison-1", "order_id": "poison-1",
          "event_time": "2026-09-02T10:00:00Z", "customer_id": "C1", "store_id": "S001", "channel": "web",
          "currency": "USD", "payment_method": "card",
          "lines": [{"product_id": "P00001", "quantity": 1, "unit_price": 10.0}], "total_amount": 10.0}


def _fail_on_poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one fault we cannot cause for real any more (every known one is a plausibility check now):
    a model that DuckDB itself fails on a value, for the batch holding the marked record."""
    real = DuckDBEngine.run_into

    def run_into(self: DuckDBEngine, name: str, model: object, view: bool = False, **params: object) -> None:
        if name == "parsed_lines" and self.query("SELECT count(*) AS n FROM bronze_batch "
                                                 "WHERE payload LIKE '%poison-1%'")["n"][0].as_py():
            try:
                duckdb.sql("SELECT CAST('ten' AS INTEGER)").fetchall()  # DuckDB's own ConversionException
            except duckdb.ConversionException as exc:
                raise ModelError(f"model silver.parsed_lines failed on duckdb: {exc}") from exc
        real(self, name, model, view, **params)  # type: ignore[arg-type]

    monkeypatch.setattr(DuckDBEngine, "run_into", run_into)


def test_a_batch_that_fails_on_a_value_is_quarantined_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    land(settings, SimulationSpec(events=500, seed=3, start=date(2026, 9, 1), days=2))
    run_batch(settings)
    landing = LandingLog(settings.landing_dir)
    healthy = {**POISON, "event_id": "ok-2", "order_id": "ok-2"}  # only in the same batch as the poison
    landing.append([json.dumps(POISON).encode(), json.dumps(healthy).encode()])
    _fail_on_poison(monkeypatch)
    result = run_batch(settings)  # exit 0: the stage goes on
    failed = result.silver[-1]
    assert failed.quarantined == {"processing_error": 2} and failed.silver_events == 0
    held = [q for q in rows(settings, QUARANTINE) if q["reason"] == "processing_error"]
    assert sorted(json.loads(q["payload"])["event_id"] for q in held) == ["ok-2", "poison-1"]
    assert all("Conversion Error" in q["reason_detail"] for q in held)
    assert reconcile(settings).balanced

    landing.append([json.dumps({**POISON, "event_id": "after", "order_id": "after"}).encode()])
    assert run_batch(settings).silver[-1].events["orders"] == 1  # the next batch is not stuck behind it

    monkeypatch.undo()  # the cause is fixed: replay the batch from Bronze
    from salesflow.context import RunContext
    from salesflow.lake.log import commits
    from salesflow.lake.tables import BRONZE_EVENTS

    version = next(c["version"] for c in commits(RunContext(settings).lake, BRONZE_EVENTS)
                   if c.get("salesflow.batch_id") == str(failed.batch_id))
    replay(settings, version)
    ids = {o["event_id"] for o in rows(settings, SILVER_ORDERS)}
    assert {"poison-1", "ok-2", "after"} <= ids
    assert not [q for q in rows(settings, QUARANTINE) if q["reason"] == "processing_error"]
    assert reconcile(settings).balanced


def test_the_machine_failing_is_not_a_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.engine.spark import SparkEngine

    failed = "x failed on duckdb: "
    assert DuckDBEngine.is_data_error(ModelError(failed + "Conversion Error: Could not convert string 'ten'"))
    assert not DuckDBEngine.is_data_error(ModelError(failed + "Out of Memory Error: could not allocate block"))
    assert not DuckDBEngine.is_data_error(ModelError(failed + "IO Error: No space left on device"))
    jvm = "x failed on spark: org.apache.spark.SparkArithmeticException: [ARITHMETIC_OVERFLOW] Overflow"
    wrapped = ModelError("x failed on duckdb")
    wrapped.__cause__ = duckdb.ConversionException("could not convert")  # found by class, down the chain
    # Spark's executors run DuckDB models too (spark.duckdb_models): its data errors are Spark's as well.
    assert DuckDBEngine.is_data_error(wrapped) and SparkEngine.is_data_error(wrapped)
    assert SparkEngine.is_data_error(ModelError(jvm)) and not DuckDBEngine.is_data_error(ModelError(jvm))
    assert not SparkEngine.is_data_error(ModelError("x failed on spark: java.lang.OutOfMemoryError: Java heap space"))
