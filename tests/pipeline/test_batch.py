"""End to end on the embedded defaults: landing log -> Bronze -> Silver -> Gold."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from salesflow.bronze.oversized import PayloadLimit
from salesflow.config import Settings, load_settings
from salesflow.jobs import BatchRun, reconcile_lake, run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    BRONZE_EVENTS,
    DUPLICATES,
    GOLD_CATEGORY_REVENUE,
    GOLD_DAILY_SALES,
    GOLD_FUNNEL_DAILY,
    GOLD_SALES_BY_WINDOW,
    PIPELINE_RUNS,
    QUARANTINE,
    SILVER_CART_ADDS,
    SILVER_ORDER_LINES,
    SILVER_ORDERS,
    SILVER_PRODUCT_VIEWS,
)
from salesflow.simulator import SimRecord, SimulationSpec, build_catalog
from salesflow.sources.landing import LandingLog
from tests.conftest import land, noisy
from tests.pipeline.lakeview import fingerprint, rows
from tests.pipeline.truth import Truth, expected_from

SPEC = SimulationSpec(events=30_000, seed=7, days=10, defects=noisy())
PER_SEGMENT = 7_000


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[SimRecord], BatchRun]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("lake") / "data")
    records = land(settings, SPEC, per_segment=PER_SEGMENT)
    return settings, records, run_batch(settings)


@pytest.fixture(scope="module")
def truth(processed: tuple[Settings, list[SimRecord], BatchRun]) -> Truth:
    return expected_from(processed[1], build_catalog(SPEC.seed))


def positions(settings: Settings, records: list[SimRecord]) -> dict[str, SimRecord]:
    """source_position -> the simulated record written there."""
    segments = LandingLog(settings.landing_dir).segments()
    return {f"{segments[i // PER_SEGMENT].name}:{i % PER_SEGMENT + 1}": r for i, r in enumerate(records)}


def test_every_defect_gets_its_reason(processed: tuple[Settings, list[SimRecord], BatchRun]) -> None:
    settings, records, _ = processed
    by_position = positions(settings, records)
    quarantined = rows(settings, QUARANTINE)
    expected_bad = [r for r in records if r.expected not in ("silver", "duplicate")]
    assert len(quarantined) == len(expected_bad)
    for row in quarantined:
        record = by_position[row["source_position"]]
        if record.expected == "malformed_json" and record.line.startswith(b"\xff"):
            assert row["reason"] == "invalid_encoding"
        else:
            assert row["reason"] == record.expected, (row["reason_detail"], record.line[:200])
        assert row["payload"] and row["batch_id"] >= 0
    kinds = Counter(r.defect for r in expected_bad)
    assert set(kinds) == {"malformed_json", "missing_field", "negative_value", "wrong_type",
                          "unknown_event_type", "oversized"}


def test_duplicates_are_counted_not_kept(processed: tuple[Settings, list[SimRecord], BatchRun]) -> None:
    settings, records, _ = processed
    by_position = positions(settings, records)
    duplicates = rows(settings, DUPLICATES)
    assert len(duplicates) == sum(r.expected == "duplicate" for r in records) > 100
    assert all(by_position[d["source_position"]].expected == "duplicate" for d in duplicates)
    event_ids = [r["event_id"] for spec in (SILVER_ORDERS, SILVER_PRODUCT_VIEWS, SILVER_CART_ADDS)
                 for r in rows(settings, spec)]
    assert len(event_ids) == len(set(event_ids))


def test_late_and_drifted_events_are_accepted(processed: tuple[Settings, list[SimRecord], BatchRun]) -> None:
    settings, records, run = processed
    accepted = {r["event_id"] for spec in (SILVER_ORDERS, SILVER_PRODUCT_VIEWS, SILVER_CART_ADDS)
                for r in rows(settings, spec)}
    for record in records:
        if record.defect in ("late", "schema_drift"):
            assert record.event is not None and record.event["event_id"] in accepted
    late_kept = sum(r["late"] for spec in (SILVER_ORDERS, SILVER_PRODUCT_VIEWS, SILVER_CART_ADDS)
                    for r in rows(settings, spec))
    assert late_kept == run.total("late") > 0
    assert run.schema_drift.get("product_viewed.coupon_code", 0) > 0


def test_reconciliation_holds_and_is_recorded(processed: tuple[Settings, list[SimRecord], BatchRun]) -> None:
    settings, records, run = processed
    rec = reconcile_lake(Lake(settings.lake_root))
    counts = Counter("silver" if r.expected == "silver" else "duplicate" if r.expected == "duplicate"
                     else "quarantine" for r in records)
    assert (rec.bronze, rec.silver_events, rec.quarantined, rec.duplicates) == (
        len(records), counts["silver"], counts["quarantine"], counts["duplicate"])
    assert rec.balanced
    [logged] = rows(settings, PIPELINE_RUNS)
    assert logged["balanced"] and logged["bronze_rows"] == len(records) and logged["run_id"] == run.run_id
    assert logged["silver_events"] + logged["quarantined"] + logged["duplicates"] == logged["bronze_rows"]


def test_bronze_keeps_raw_payload_and_metadata(processed: tuple[Settings, list[SimRecord], BatchRun]) -> None:
    settings, records, _ = processed
    by_position = positions(settings, records)
    bronze = rows(settings, BRONZE_EVENTS)
    assert len(bronze) == len(records)
    for row in bronze[:2000]:
        record = by_position[row["source_position"]]
        if len(record.line) > settings.pipeline.max_payload_bytes:  # kept by reference
            reference = json.loads(row["payload"])["oversized_payload"]
            assert reference["sha256"] == hashlib.sha256(record.line).hexdigest()
            assert row["ingest_error"] == "payload_too_large"
        elif row["valid_utf8"]:
            assert row["payload"].encode() == record.line
        assert row["source"] == "landing" and row["ingested_at"] is not None
        if record.event is not None and record.defect is None:
            assert row["event_date"].isoformat() == record.event["event_time"][:10]


def test_gold_category_revenue_matches_independent_sums(processed: tuple[Settings, list[SimRecord], BatchRun],
                                                        truth: Truth) -> None:
    settings = processed[0]
    gold = {(r["event_date"], r["category"]): r for r in rows(settings, GOLD_CATEGORY_REVENUE)}
    assert set(gold) == set(truth.revenue)
    for key, row in gold.items():
        assert row["revenue"] == truth.revenue[key]
        assert row["units"] == truth.units[key]
        assert row["orders"] == len(truth.orders[key])
        assert row["avg_order_value"] == pytest.approx(float(truth.revenue[key] / len(truth.orders[key])), rel=1e-12)


def test_gold_daily_sales_matches_independent_sums(processed: tuple[Settings, list[SimRecord], BatchRun],
                                                   truth: Truth) -> None:
    gold = {(r["event_date"], r["product_id"]): r for r in rows(processed[0], GOLD_DAILY_SALES)}
    assert {k: r["units"] for k, r in gold.items()} == dict(truth.product_units)
    assert {k: r["revenue"] for k, r in gold.items()} == dict(truth.product_revenue)


def test_gold_windows_match_independent_sums(processed: tuple[Settings, list[SimRecord], BatchRun],
                                             truth: Truth) -> None:
    windows = rows(processed[0], GOLD_SALES_BY_WINDOW)
    hourly = {(r["window_start"], r["category"], r["store_id"]): r for r in windows if r["window_size"] == "1h"}
    assert {k: r["revenue"] for k, r in hourly.items()} == dict(truth.hourly_revenue)
    assert {k: r["orders"] for k, r in hourly.items()} == {k: len(v) for k, v in truth.hourly_orders.items()}
    for size, seconds in (("1m", 60), ("5m", 300), ("1h", 3600)):
        sized = [r for r in windows if r["window_size"] == size]
        assert sum(r["revenue"] for r in sized) == truth.total_revenue
        assert all((r["window_end"] - r["window_start"]).total_seconds() == seconds for r in sized)
        assert all(r["window_start"].timestamp() % seconds == 0 for r in sized)


def test_gold_funnel_matches_independent_counts(processed: tuple[Settings, list[SimRecord], BatchRun],
                                                truth: Truth) -> None:
    funnel = {(r["event_date"], r["category"]): r for r in rows(processed[0], GOLD_FUNNEL_DAILY)}
    assert {k: r["views"] for k, r in funnel.items() if r["views"]} == dict(truth.views)
    assert {k: r["carts"] for k, r in funnel.items() if r["carts"]} == dict(truth.carts)
    assert {k: r["orders"] for k, r in funnel.items() if r["orders"]} == {k: len(v) for k, v in truth.orders.items()}
    for row in funnel.values():
        if row["views"]:
            assert row["view_to_cart"] == pytest.approx(row["carts"] / row["views"])


def test_silver_lines_are_typed_and_exploded(processed: tuple[Settings, list[SimRecord], BatchRun],
                                             truth: Truth) -> None:
    lines = rows(processed[0], SILVER_ORDER_LINES)
    assert sum(r["revenue"] for r in lines) == truth.total_revenue
    assert len({(r["order_id"], r["line_number"]) for r in lines}) == len(lines)
    assert all(r["quantity"] > 0 and r["unit_price"] >= 0 for r in lines)
    orders = rows(processed[0], SILVER_ORDERS)
    assert sum(o["line_count"] for o in orders) == len(lines)


def test_rerun_changes_no_table(processed: tuple[Settings, list[SimRecord], BatchRun]) -> None:
    settings = processed[0]
    before = fingerprint(settings)
    again = run_batch(settings)
    assert again.silver == [] and again.bronze_rows == 0
    assert fingerprint(settings) == before


def test_incremental_runs_equal_one_run(tmp_path: Path) -> None:
    """New data arriving in pieces (and dupes of old events arriving later) gives the same gold."""
    spec = SimulationSpec(events=12_000, seed=21, days=5, defects=noisy())
    one = load_settings(data_dir=tmp_path / "one")
    records = land(one, spec)
    run_batch(one)

    pieces = load_settings(data_dir=tmp_path / "pieces", pipeline={"max_batch_bytes": 200_000})
    landing = LandingLog(pieces.landing_dir)
    from salesflow.simulator.output import write_reference, write_to_landing

    write_reference(landing, build_catalog(spec.seed))
    runs = []
    for start in range(0, len(records), 4_000):
        write_to_landing(landing, records[start:start + 4_000], 1_500)
        runs.append(run_batch(pieces))
    assert sum(len(r.silver) for r in runs) > 3  # several bronze batches, dedupe across them
    for spec_ in (GOLD_CATEGORY_REVENUE, GOLD_DAILY_SALES, GOLD_FUNNEL_DAILY):
        assert _sorted(rows(one, spec_)) == _sorted(rows(pieces, spec_))
    assert _sorted(rows(one, GOLD_SALES_BY_WINDOW), drop="updated_at") == _sorted(
        rows(pieces, GOLD_SALES_BY_WINDOW), drop="updated_at")
    assert reconcile_lake(Lake(pieces.lake_root)).balanced


def _sorted(table: list[dict], drop: str | None = None) -> list[tuple]:
    return sorted((tuple((k, v) for k, v in sorted(r.items()) if k != drop) for r in table), key=repr)


def test_a_batch_another_writer_lands_after_silver_is_in_flight_not_lost(tmp_path: Path) -> None:
    """A partner-file load (or a stream) may commit to Bronze after a run's last Silver batch and
    before the run reconciles. The run counts the batches Silver finished: that batch is in
    flight, where the whole lake would call it a loss until the next run takes it."""
    import pyarrow as pa

    from salesflow.bronze.rows import bronze_input, next_bronze_batch, write_bronze
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.pipeline.reconcile import reconcile_finished

    settings = load_settings(data_dir=tmp_path / "d")
    land(settings, SimulationSpec(events=300, seed=8))
    assert run_batch(settings).reconciliation.balanced
    lake = Lake(settings.lake_root)
    late = next_bronze_batch(lake)
    records = bronze_input([b'{"event_type":"product_viewed"}'] * 5, "shop", "drop.csv",
                           pa.array([str(i) for i in range(5)]), 0, late, pa.scalar(0, pa.timestamp("us", "UTC")))
    assert write_bronze(lake, DuckDBEngine(), records, "salesflow.bronze.files", late, {}, PayloadLimit())[1]
    whole, finished = reconcile_lake(lake), reconcile_finished(lake)
    assert whole.bronze == finished.bronze + 5 and not whole.balanced
    assert finished.balanced and finished.accounted == whole.accounted
    after = run_batch(settings)  # the next run takes it: five quarantined, all accounted again
    assert after.reconciliation is not None and after.reconciliation.balanced
    assert reconcile_lake(lake).balanced
