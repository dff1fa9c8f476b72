"""Property-based, through every layer (#28): contract-shaped events with extreme values (times from
year 1 to 9999 and epoch numbers, numbers beyond 64 bits, NaN, unicode and control characters,
repeated JSON keys, nesting, re-used ids) are posted to the collector, batched through Bronze,
Silver and Gold, then loaded into both warehouses. Whatever is generated: no crash, every record the
collector acknowledged is in exactly one of Silver, duplicates or quarantine (and only for a reason
the collector could not know: a re-used id with other content, a quality gate), the lake reconciles
in records and in Gold's revenue per day, and both warehouses reconcile with Silver.

Examples per run: ``SALESFLOW_HYPOTHESIS_EXAMPLES`` (500 by default, as in CI). Hypothesis keeps
its example database in ``.hypothesis/`` (ignored by git).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesflow.collector.app import create_app
from salesflow.collector.sinks import LandingSink
from salesflow.config import load_settings
from salesflow.context import RunContext
from salesflow.jobs import run_batch
from salesflow.jobs.lake import reconcile
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.tables import BRONZE_EVENTS, QUARANTINE, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.sources.landing import LandingLog
from tests.pg import new_database

EXAMPLES = int(os.environ.get("SALESFLOW_HYPOTHESIS_EXAMPLES", "500"))

ids = st.one_of(st.sampled_from(["E1", "E2", "O1", "O2", "C1", "P00001"]),  # re-used: duplicates, conflicts
                st.text(max_size=24), st.integers(), st.none())
plausible_times = st.datetimes(min_value=datetime(2026, 8, 1), max_value=datetime(2026, 11, 30)).map(
    lambda d: f"{d.isoformat()}Z")
times = st.one_of(
    plausible_times,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: f"{d.isoformat()}+05:30"),
    st.integers(min_value=-2**40, max_value=2**40), st.text(max_size=30),
    st.sampled_from(["0001-01-01T00:00:00Z", "-0001-06-01T00:00:00Z", "10000-01-01T00:00:00Z", "2026-09-01T10:00:00z",
                     "2026-09-01T10:00:00+99:99", "2026-09-01 10:00:00"]),
)
numbers = st.one_of(
    st.sampled_from([0, 1, 2, 10.0, 15.29, 15.2900001, -1, 1e17, 9e15, 2**63, -(2**63) - 1]),
    st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-10**6, max_value=10**6, places=2).map(float), st.text(max_size=8),
)
junk = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)
line = st.fixed_dictionaries({"product_id": ids, "quantity": numbers, "unit_price": numbers},
                             optional={"discount": numbers, "note": junk})
common = {"schema_version": st.sampled_from([1, 1, 1, "1", 2, 1.0, True]), "event_id": ids, "event_time": times,
          "customer_id": ids, "store_id": st.sampled_from(["S001", "S002"]) | ids,
          "channel": st.sampled_from(["web", "app", "store", "fax"])}
order = st.fixed_dictionaries({
    **common, "event_type": st.just("order_created"), "order_id": ids,
    "currency": st.sampled_from(["USD", "EUR", "usd", ""]), "payment_method": st.sampled_from(["card", "cash", "?"]),
    "lines": st.lists(line, max_size=3), "total_amount": numbers}, optional={"extra": junk})
view = st.fixed_dictionaries({**common, "event_type": st.sampled_from(["product_viewed", "add_to_cart", "refund"]),
                              "session_id": ids, "product_id": ids}, optional={"quantity": numbers, "extra": junk})


def _valid_order(draw: st.DrawFn) -> dict[str, Any]:
    """A contract-valid order (with re-used ids now and then), so the valid space is reached often."""
    quantities = draw(st.lists(st.integers(1, 1_000), min_size=1, max_size=3))  # within the plausibility bounds:
    prices = draw(st.lists(st.integers(0, 10**6).map(lambda cents: cents / 100), min_size=len(quantities),
                           max_size=len(quantities)))  # the extremes are the hostile branch's
    total = round(sum(q * round(p * 100) for q, p in zip(quantities, prices, strict=True)) / 100, 2)
    key = st.sampled_from(["E1", "E2", "O1"]) | st.uuids().map(str)
    return {"event_type": "order_created", "schema_version": 1, "event_id": draw(key), "order_id": draw(key),
            "event_time": draw(plausible_times),
            "customer_id": draw(st.sampled_from(["C1", "C2"]) | st.text("abcXYZ-é漢", min_size=1, max_size=12)),
            "store_id": "S001", "channel": "web", "currency": "USD", "payment_method": "card",
            "lines": [{"product_id": f"P{i:05d}", "quantity": q, "unit_price": p}
                      for i, (q, p) in enumerate(zip(quantities, prices, strict=True))],
            "total_amount": total}


valid_orders = st.composite(_valid_order)()


def _encoded(event: dict[str, Any], repeat_key: str | None) -> bytes:
    text = json.dumps(event)  # NaN and Infinity come out as bare words: not JSON, as a careless sender writes
    if repeat_key is not None and repeat_key in event:  # the same key twice: ambiguous, so malformed_json
        text = text[:-1] + f', {json.dumps(repeat_key)}: {json.dumps(event[repeat_key])}' + "}"
    return text.encode()


documents = st.one_of(
    valid_orders.map(lambda event: json.dumps(event).encode()),
    st.tuples(order | view, st.none() | st.sampled_from(["currency", "event_id", "total_amount"])).map(
        lambda pair: _encoded(*pair)),
    st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b" ")),
)


def _bronze_rows(ctx: RunContext) -> int:
    return ctx.lake.count_rows(BRONZE_EVENTS, None)


@pytest.mark.timeout(2400)  # 500 examples, each a request and a batch through every layer: minutes, more when busy
def test_hostile_events_through_every_layer(postgres_admin_url: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="salesflow-property-"))
    config = load_settings(data_dir=root / "d", collector={"rate_per_second": 1e6, "burst": 10**6})
    app = create_app(config, LandingSink(LandingLog(config.landing_dir)))
    ctx = RunContext(config)  # one command's context for every example, as a stream keeps one: tables stay open
    acknowledged = {"events": 0, "requests": 0}

    with TestClient(app) as client:
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(documents, min_size=1, max_size=5))
        def one_request(batch: list[bytes]) -> None:
            before = _bronze_rows(ctx)
            answer = client.post("/v1/events", content=b"\n".join(batch),
                                 headers={"content-type": "application/x-ndjson"})
            assert answer.status_code in (200, 422), answer.text
            accepted = answer.json().get("accepted", 0) if answer.status_code == 200 else 0
            acknowledged["events"] += accepted
            result = run_batch(ctx)  # never raises on data: only infrastructure may stop it
            assert _bronze_rows(ctx) == before + accepted  # what was acknowledged, and only that
            acknowledged["requests"] += 1
            # Records every time (each batch was also reconciled in money by Silver before it was
            # written); Gold's lag and revenue per day, a read of every order line, every 25 requests.
            rec = reconcile(ctx) if acknowledged["requests"] % 25 == 0 else reconcile_lake(ctx.lake)
            assert rec.balanced, rec
            lake = ctx.lake
            batches = [b.batch_id for b in result.silver]
            rejected = lake.read(QUARANTINE, ["reason", "reason_detail", "payload"],
                                 ds.field("batch_id").isin(batches)) if batches else None
            for row in [] if rejected is None else rejected.to_pylist():  # the collector's verdict is Silver's
                assert row["reason"] == "conflicting_duplicate" or row["reason_detail"] == "quality_gate", row
            orders = lake.read(SILVER_ORDERS, ["order_id"])
            if orders is not None:
                assert pc.count_distinct(orders["order_id"]).as_py() == orders.num_rows  # ids are never re-accepted

        one_request()

    assert acknowledged["events"] > EXAMPLES // 10  # the strategies reach the valid space, not only junk
    final = reconcile(ctx)
    assert final.balanced and final.gold_lag_batches == 0 and final.silver_revenue == final.gold_revenue, final
    postgres = load_settings(data_dir=config.data_dir, warehouse={"url": new_database(postgres_admin_url)})
    for target in (config, postgres):
        loaded = load_warehouse(target)
        assert loaded.reconciled and loaded.totals["fact_sales"] == loaded.silver_lines
    quarantine = RunContext(config).lake.read(QUARANTINE, ["reason"])
    if EXAMPLES >= 100:  # hostile documents reach Silver's quarantine, not only the collector's refusals
        assert quarantine is not None and quarantine.num_rows > 0

