"""An event_id or order_id accepted once is never accepted again, however old (#28): the same
shop traffic re-sent a month later (the simulator re-run with its default seed did exactly that)
is all duplicates, Silver keeps one row per key, and the warehouse still reconciles."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesflow.config import load_settings
from salesflow.context import RunContext
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.jobs import run_batch
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.tables import DUPLICATES, QUARANTINE, SILVER_ORDER_LINES, SILVER_ORDERS
from salesflow.pipeline.runner import Runner, landing_source
from salesflow.silver.key_index import HashRuns
from salesflow.simulator import SimulationSpec, build_catalog, simulate
from tests.conftest import land
from tests.pipeline.lakeview import rows


def test_traffic_resent_a_month_later_is_all_duplicates(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"dedupe_horizon_hours": 24.0})
    first = SimulationSpec(events=3_000, seed=42, start=date(2026, 9, 1), days=3)
    land(settings, first)
    run_batch(settings)
    orders_before = rows(settings, SILVER_ORDERS)
    revenue_before = sum(Decimal(str(o["total_amount"])) for o in orders_before)

    resent = land(settings, replace(first, start=date(2026, 10, 5)))  # same ids, dated a month later
    result = run_batch(settings)
    assert result.reconciliation.balanced
    orders = rows(settings, SILVER_ORDERS)
    assert len({o["order_id"] for o in orders}) == len(orders)
    known = {o["order_id"] for o in orders_before}
    again = {r.event["order_id"] for r in resent if r.event and r.event.get("event_type") == "order_created"} & known
    assert len(again) > 0.9 * len(known)  # the same ids: a re-run of the same seed
    kept = [o for o in orders if o["order_id"] in known]
    assert len(kept) == len(known)
    assert sum(Decimal(str(o["total_amount"])) for o in kept) == revenue_before  # no revenue counted twice
    keys = [(line["order_id"], line["line_number"]) for line in rows(settings, SILVER_ORDER_LINES)]
    assert len(keys) == len(set(keys))
    batch = result.silver[-1].batch_id
    dropped = {d["order_id"] for d in rows(settings, DUPLICATES)
               if d["batch_id"] == batch and d["event_type"] == "order_created"}
    # Same ids, other times and baskets: not retries but conflicts, quarantined with the first's batch.
    conflicting = {json.loads(q["payload"])["order_id"] for q in rows(settings, QUARANTINE)
                   if q["batch_id"] == batch and q["reason"] == "conflicting_duplicate"
                   and q["event_type"] == "order_created"}
    assert again <= dropped | conflicting and len(conflicting) > 0.9 * len(again)
    assert load_warehouse(settings).reconciled  # failed on every load before (128 duplicate line keys)


@pytest.mark.parametrize("kept", [True, False])
def test_the_index_is_loaded_or_rebuilt_and_confirms_every_hit(tmp_path: Path, kept: bool) -> None:
    """A second process starts from the index kept beside the checkpoints, or, without it, cold:
    it builds the index from Silver. Each hash hit is looked up in the one batch the index names."""
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"dedupe_horizon_hours": 1.0})
    spec = SimulationSpec(events=1_500, seed=5, start=date(2026, 9, 1), days=2)
    land(settings, spec)
    run_batch(settings)
    assert (settings.checkpoint_dir / "silver-key-index" / "manifest.json").exists()
    if not kept:
        shutil.rmtree(settings.checkpoint_dir / "silver-key-index")
    land(settings, replace(spec, start=date(2026, 9, 20)))
    ctx = RunContext(settings)
    runner = Runner(ctx, DuckDBEngine(), landing_source(settings, ctx.lake, DuckDBEngine()))
    result = runner.run()
    index = runner.silver.keys
    assert index is not None and index.exact_lookups >= 1 and len(index) > 0
    assert result.quarantined_by_reason.get("conflicting_duplicate", 0) > 0 and result.reconciliation.balanced
    conflicts = [q for q in rows(settings, QUARANTINE) if q["reason"] == "conflicting_duplicate"]
    assert conflicts and all(" was accepted in batch " in q["reason_detail"] for q in conflicts)
    orders = rows(settings, SILVER_ORDERS)
    assert len({o["order_id"] for o in orders}) == len(orders)


def test_realtime_simulations_never_reuse_ids_of_earlier_runs() -> None:
    catalog = build_catalog(42)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    runs = [SimulationSpec(events=2_000, seed=42, realtime_from=start + timedelta(minutes=m), realtime_seconds=60)
            for m in (0, 5)]
    ids = [{r.event["event_id"] for r in simulate(spec, catalog) if r.event} for spec in runs]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    finite = SimulationSpec(events=500, seed=42)  # a finite run stays reproducible
    assert [r.line for r in simulate(finite, catalog)] == [r.line for r in simulate(finite, catalog)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=40), min_size=1, max_size=12),
       st.lists(st.integers(0, 2**64 - 1), max_size=60))
def test_hash_runs_find_exactly_the_earliest_batch(batches: list[list[int]], probes: list[int]) -> None:
    runs, earliest = HashRuns(), {}
    for batch_id, keys in enumerate(batches):
        runs.add(np.array(keys, dtype=np.uint64), np.full(len(keys), batch_id, dtype=np.int64))
        for key in keys:
            earliest.setdefault(key, batch_id)
    sizes = [len(h) for h, _ in runs.runs]
    assert all(a > 2 * b for a, b in zip(sizes, sizes[1:], strict=False))  # geometric: O(log N) runs
    wanted = probes + [k for keys in batches for k in keys]
    hit_h, hit_b = runs.hits(np.array(wanted, dtype=np.uint64))
    found: dict[int, int] = {}
    for key, batch in zip(hit_h.tolist(), hit_b.tolist(), strict=True):  # a key may sit in several runs
        found[key] = min(batch, found.get(key, batch))
    assert found == {k: earliest[k] for k in wanted if k in earliest}
    assert len(runs) == sum(len(k) for k in batches)
    assert all(bool(np.all(h[:-1] <= h[1:])) for h, _ in runs.runs)  # every run sorted


ORDER = {"event_type": "order_created", "event_id": "E1", "event_time": "2026-09-01T10:00:00Z", "order_id": "O1",
         "customer_id": "C1", "store_id": "S1", "channel": "web", "currency": "USD", "payment_method": "card",
         "lines": [{"product_id": "P1", "quantity": 1, "unit_price": 10.0}], "total_amount": 10.0}


def _conflicting(total: float, **fields: object) -> dict[str, object]:
    return {**ORDER, **fields, "lines": [{"product_id": "P1", "quantity": 1, "unit_price": total}],
            "total_amount": total}


def test_a_reused_id_with_other_content_is_quarantined_naming_the_first(tmp_path: Path) -> None:
    from salesflow.sources.landing import LandingLog

    settings = load_settings(data_dir=tmp_path / "d", pipeline={"dedupe_horizon_hours": 1.0})
    landing = LandingLog(settings.landing_dir)
    # One batch: the order, an exact retry (a duplicate), and the same event id with 60.00 more.
    landing.append([json.dumps(ORDER).encode(), json.dumps(ORDER).encode(), json.dumps(_conflicting(70.0)).encode()])
    first = run_batch(settings).silver[-1]
    # The batch in money: 90.00 sent = 10.00 accepted + 70.00 in quarantine + 10.00 of an exact repeat.
    assert first.money == {"bronze": Decimal("90.00"), "silver": Decimal("10.00"), "quarantined": Decimal("70.00"),
                           "duplicates": Decimal("10.00"), "bronze_gross": Decimal("90.00"),
                           "quarantined_gross": Decimal("70.00")} and first.balanced
    # A month later: the same order id under a new event id and another total (beyond the horizon:
    # the key index finds it), and a new event id re-sending the order unchanged (a duplicate).
    later = "2026-10-01T10:00:00Z"
    landing.append([json.dumps(_conflicting(25.0, event_id="E2", event_time=later)).encode(),
                    json.dumps({**ORDER, "event_id": "E3", "event_time": later}).encode()])
    result = run_batch(settings)
    assert result.reconciliation.balanced
    orders = rows(settings, SILVER_ORDERS)
    assert [(o["event_id"], o["total_amount"]) for o in orders] == [("E1", Decimal("10.00"))]
    conflicts = {q["event_id"]: q["reason_detail"] for q in rows(settings, QUARANTINE)
                 if q["reason"] == "conflicting_duplicate"}
    assert set(conflicts) == {"E1", "E2"}
    assert conflicts["E1"].startswith("event_id first came from landing ") and conflicts["E1"].endswith("other content")
    assert conflicts["E2"] == "order_id O1 was accepted in batch 0 with other content"
    duplicates = {(d["event_id"], d["duplicate_key"]) for d in rows(settings, DUPLICATES)}
    assert duplicates == {("E1", "event_id"), ("E3", "order_id")}
    # In money: 10.00 accepted, 95.00 in quarantine with a reason, 20.00 of exact repeats.
    quarantined = [json.loads(q["payload"])["total_amount"] for q in rows(settings, QUARANTINE)]
    assert sorted(quarantined) == [25.0, 70.0]
