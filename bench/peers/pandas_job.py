"""Peer: the Silver/Gold work as a pandas "local demo runner" would write it.

Reads every landing segment, parses each line with orjson, applies the contract's main rules
(known event type, required fields with their JSON types, positive quantities, non-negative
amounts, the reporting currency), drops repeats by event_id and order_id (first wins), explodes
order lines, and writes Silver (orders, order lines, views, carts) and Gold (daily sales per
product, revenue per category and day, the funnel) as Parquet. No Delta, no quality suites, no
lineage: the work only, so the comparison flatters the peer.

    python bench/peers/pandas_job.py LANDING_DIR OUT_DIR   -> one JSON line of facts
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

REQUIRED = {
    "order_created": {"order_id": str, "customer_id": str, "store_id": str, "channel": str, "currency": str,
                      "payment_method": str, "lines": list, "total_amount": (int, float)},
    "product_viewed": {"session_id": str, "product_id": str, "store_id": str, "channel": str},
    "add_to_cart": {"session_id": str, "product_id": str, "store_id": str, "channel": str, "quantity": int},
}


def problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "malformed_json"
    kind = event.get("event_type")
    if kind not in REQUIRED:
        return "unknown_event_type"
    for name, types in {"event_id": str, "event_time": str, **REQUIRED[kind]}.items():
        value = event.get(name)
        if value is None:
            return "missing_field"
        if not isinstance(value, types) or isinstance(value, bool):
            return "invalid_type"
    if kind == "add_to_cart" and event["quantity"] <= 0:
        return "non_positive_quantity"
    if kind == "order_created":
        if event["currency"] != "USD" or not event["lines"] or event["total_amount"] < 0:
            return "invalid_value"
        for line in event["lines"]:
            if not isinstance(line, dict) or not isinstance(line.get("quantity"), int) \
                    or not isinstance(line.get("unit_price"), (int, float)) or line["quantity"] <= 0 \
                    or line["unit_price"] < 0:
                return "invalid_value"
    return None


def main(landing: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    events: list[dict[str, Any]] = []
    bad = 0
    records = 0
    for segment in sorted(landing.glob("*.jsonl")):
        for line in segment.read_bytes().splitlines():
            records += 1
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
                continue
            if len(line) > 1_048_576 or problem(event) is not None:
                bad += 1
                continue
            events.append(event)
    frame = pd.DataFrame.from_records(events)
    before = len(frame)
    frame = frame.drop_duplicates("event_id", keep="first")
    orders = frame[frame["event_type"] == "order_created"]
    orders = orders.drop_duplicates("order_id", keep="first")
    frame = pd.concat([orders, frame[frame["event_type"] != "order_created"]])
    duplicates = before - len(frame)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True, format="ISO8601")
    frame["event_date"] = frame["event_time"].dt.date

    orders = frame[frame["event_type"] == "order_created"]
    lines = orders[["order_id", "event_date", "store_id", "lines"]].explode("lines", ignore_index=True)
    detail = pd.json_normalize(lines["lines"].tolist())
    lines = pd.concat([lines.drop(columns="lines"), detail], axis=1)
    lines["discount"] = lines.get("discount", 0).fillna(0)
    lines["revenue"] = (lines["quantity"] * lines["unit_price"] - lines["discount"]).round(2)
    views = frame[frame["event_type"] == "product_viewed"]
    carts = frame[frame["event_type"] == "add_to_cart"]

    products = pd.read_json(landing / "reference" / "products.jsonl", lines=True)[["product_id", "category"]]
    lines = lines.merge(products, on="product_id", how="left")
    lines["category"] = lines["category"].fillna("unknown")
    daily = lines.groupby(["event_date", "product_id", "category"], as_index=False).agg(
        units=("quantity", "sum"), revenue=("revenue", "sum"), orders=("order_id", "nunique"))
    category = lines.groupby(["event_date", "category"], as_index=False).agg(
        revenue=("revenue", "sum"), orders=("order_id", "nunique"), units=("quantity", "sum"))
    funnel = pd.concat([
        views.merge(products, on="product_id", how="left").groupby(["event_date", "category"]).size().rename("views"),
        carts.merge(products, on="product_id", how="left").groupby(["event_date", "category"]).size().rename("carts"),
        category.set_index(["event_date", "category"])["orders"],
    ], axis=1).fillna(0).reset_index()

    out.mkdir(parents=True, exist_ok=True)
    for name, table in {"orders": orders.drop(columns="lines"), "order_lines": lines, "product_views": views,
                        "cart_adds": carts, "daily_sales": daily, "category_revenue": category,
                        "funnel_daily": funnel}.items():
        table = table.dropna(axis=1, how="all")
        table.astype({c: str for c in table.columns if table[c].dtype == object}).to_parquet(out / f"{name}.parquet")
    return {"peer": "pandas", "records": records, "seconds": round(time.perf_counter() - started, 1),
            "orders": len(orders), "order_lines": len(lines), "product_views": len(views), "cart_adds": len(carts),
            "rejected": bad, "duplicates": duplicates, "revenue": round(float(lines["revenue"].sum()), 2)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
