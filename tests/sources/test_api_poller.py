"""The REST API poller against a real local HTTP server: pagination, faults, resume, exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from salesflow.bronze.api_ingest import ApiIngestor
from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.sources.api import ApiClient, SourceRefused, SourceUnavailable
from tests.pipeline.lakeview import rows
from tests.sources.partner_api import PartnerApi, make_orders, serve

MAPPING = {
    "records_path": "data.orders",
    "fields": {
        "order_id": "id", "event_time": "updated_at",
        "customer_id": {"expr": "json_extract_string(customer, '$.id')"},
        "store_id": {"const": "api-store"}, "channel": {"const": "web"}, "currency": {"const": "USD"},
        "payment_method": {"const": "card"}, "lines.product_id": "sku", "lines.quantity": "qty",
        "lines.unit_price": "price",
    },
}
STYLES = {"page": "updated_at", "offset": None, "cursor": "updated_at", "link": None}


def api_settings(settings: Settings, url: str, style: str, **extra: Any) -> Settings:
    spec = {**MAPPING, "url": f"{url}/orders", "pagination": {"style": style, "page_size": 20},
            "incremental_field": STYLES.get(style), "timeout_seconds": 0.4, "backoff_seconds": 0.05,
            "pages_per_batch": 2, **extra}
    return load_settings(data_dir=settings.data_dir, apis={"shop": spec})


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


def poll(settings: Settings, sleeps: Sleeps | None = None) -> ApiIngestor:
    made: list[ApiIngestor] = []

    def build(lake: Lake, engine: Any) -> ApiIngestor:
        client = ApiClient("shop", settings.apis["shop"], sleep=sleeps if sleeps is not None else Sleeps())
        made.append(ApiIngestor(lake, engine, settings, "shop", client=client))
        return made[-1]

    run_batch(settings, bronze=build)
    return made[0]


def bronze_ids(settings: Settings) -> list[str]:
    import json

    return [json.loads(r["payload"])["order_id"] for r in rows(settings, BRONZE_EVENTS) if r["source"] == "api:shop"]


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_through_faults_gives_every_record_exactly_once(settings: Settings, style: str) -> None:
    api = PartnerApi(style, make_orders(0, 95), faults={2: "500", 4: "429", 6: "timeout"})
    with serve(api) as url:
        settings = api_settings(settings, url, style)
        sleeps = Sleeps()
        first = poll(settings, sleeps)
        assert first.http.retries == 3
        assert 1.0 in sleeps  # the 429's Retry-After was honoured exactly
        ids = bronze_ids(settings)
        assert sorted(ids) == [o["id"] for o in api.orders] and len(set(ids)) == 95

        api.orders += make_orders(95, 17)  # new orders arrive (appended, later updated_at)
        poll(settings)
        ids = bronze_ids(settings)
        assert sorted(ids) == [o["id"] for o in api.orders] and len(ids) == 112

        version = Lake(settings.lake_root).version(BRONZE_EVENTS)
        poll(settings)  # nothing new: no new Bronze commit
        assert Lake(settings.lake_root).version(BRONZE_EVENTS) == version

    orders = rows(settings, SILVER_ORDERS)
    assert len(orders) == 112 and {o["source"] for o in orders} == {"api:shop"}
    assert {o["customer_id"] for o in orders} == {f"c-{i}" for i in range(37)}
    assert reconcile_lake(Lake(settings.lake_root)).balanced


def test_outage_then_lost_local_state_resumes_from_the_committed_cursor(settings: Settings) -> None:
    api = PartnerApi("page", make_orders(0, 200), fail_from=4)
    with serve(api) as url:
        settings = api_settings(settings, url, "page", pages_per_batch=1, max_retries=1)
        with pytest.raises(SourceUnavailable, match="resumes from the committed cursor"):
            poll(settings)
        assert len(bronze_ids(settings)) == 60  # pages 1-3 committed, one per Bronze batch

        # The process "died" after its last Bronze commit but before saving the local state.
        (settings.checkpoint_dir / "api-shop.json").unlink()
        api.fail_from = None
        requests_before = api.requests
        poll(settings)
        assert "page=4" in api.served[requests_before]  # resumed at page 4, not page 1
    ids = bronze_ids(settings)
    assert sorted(ids) == [o["id"] for o in api.orders] and len(ids) == 200
    assert len(rows(settings, SILVER_ORDERS)) == 200


def test_refused_request_is_terminal_and_names_the_setting(settings: Settings) -> None:
    api = PartnerApi("page", make_orders(0, 5), faults={1: "401"})
    with serve(api) as url:
        settings = api_settings(settings, url, "page")
        with pytest.raises(SourceRefused, match=r"HTTP 401.*apis.shop.url and its auth"):
            poll(settings)
    assert api.requests == 1  # no retry of a 4xx
    assert rows(settings, BRONZE_EVENTS) == []


def test_bearer_token_comes_from_the_named_environment_variable(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    from salesflow.errors import ConfigError

    spec = {**MAPPING, "url": "http://127.0.0.1:9/orders", "auth": "bearer", "token_env": "SHOP_TOKEN"}
    settings = load_settings(data_dir=settings.data_dir, apis={"shop": spec})
    with pytest.raises(ConfigError, match=r"\$SHOP_TOKEN"):
        ApiClient("shop", settings.apis["shop"])
    monkeypatch.setenv("SHOP_TOKEN", "s3cret")
    client = ApiClient("shop", settings.apis["shop"])
    assert client.client.headers["Authorization"] == "Bearer s3cret"
    client.close()
