"""Peer: the Silver/Gold work as pandas, written for speed: vectorised, pyarrow-backed dtypes.

Same rules as the other peers (bench/peers/duckdb_job.py): known event type, required fields with
their JSON types, positive quantities, non-negative amounts, the reporting currency; repeats
dropped by event_id, then order_id (first in landing order wins); order lines exploded; Silver
(orders, order lines, views, carts) and Gold (daily sales per product, revenue per category and
day, the funnel) as Parquet.

What was tuned, following pandas' "Enhancing performance" and "PyArrow functionality" guides:
- the only per-record Python is the JSON parse itself (orjson; pandas' and pyarrow's JSON readers
  reject a whole file for one malformed line, and the landing log has such lines), done once per
  line, with the fields pulled out into one list per column in the same comprehension pass;
- every rule after that is a vectorised mask over whole columns (the JSON type of each field is
  a column of Python type objects compared at once, no per-event function);
- columns are pyarrow-backed (``string[pyarrow]``, ``int64[pyarrow]``, ``timestamp[us, UTC]``),
  so strings are not Python objects and Parquet is written from Arrow without conversion;
- repeats are removed with ``duplicated`` on the key columns (hash-based, first wins), lines are
  exploded from the kept orders only, the product table is merged on categoricals, and the
  aggregates are ``groupby(..., observed=True, sort=False)``.
Not tuned: no multiprocessing (pandas is single-threaded; splitting the parse over processes is
outside what a pandas job usually does).

    python bench/peers/pandas_job.py LANDING_DIR OUT_DIR   -> one JSON line of facts
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

FIELDS = ("event_type", "event_id", "event_time", "order_id", "customer_id", "store_id", "channel", "currency",
          "payment_method", "lines", "total_amount", "session_id", "product_id", "quantity")
STRINGS = ("event_type", "event_id", "event_time", "order_id", "customer_id", "store_id", "channel", "currency",
           "payment_method", "session_id", "product_id")
REQUIRED = {
    "order_created": ("order_id", "customer_id", "store_id", "channel", "currency", "payment_method", "lines",
                      "total_amount"),
    "product_viewed": ("session_id", "product_id", "store_id", "channel"),
    "add_to_cart": ("session_id", "product_id", "store_id", "channel", "quantity"),
}
STR, ARRAY = pd.ArrowDtype(pa.string()), "object"


def _load(line: bytes) -> Any:
    if len(line) > 1_048_576:
        return None
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def parse(landing: Path) -> tuple[int, dict[str, list[Any]]]:
    """Every line parsed once; one list per field (None where absent or the line is not an object)."""
    events: list[Any] = []
    for segment in sorted(landing.glob("*.jsonl")):
        events.extend(_load(line) for line in segment.read_bytes().splitlines() if line)
    objects = [e if isinstance(e, dict) else {} for e in events]
    return len(events), {name: [e.get(name) for e in objects] for name in FIELDS}


def typed_mask(values: list[Any], *types: type) -> np.ndarray:
    """True where the value's JSON type is one of ``types`` (bool is not a number)."""
    kinds = pd.Series([type(v) for v in values], dtype=object)
    return kinds.isin(types).to_numpy()


def valid_events(columns: dict[str, list[Any]]) -> pd.DataFrame:
    ok_type = {name: typed_mask(columns[name], str) for name in STRINGS}
    ok_type["lines"] = typed_mask(columns["lines"], list)
    ok_type["total_amount"] = typed_mask(columns["total_amount"], int, float)
    ok_type["quantity"] = typed_mask(columns["quantity"], int)
    frame = pd.DataFrame({name: pd.array(np.where(ok_type[name], np.asarray(columns[name], dtype=object), None),
                                         dtype=STR) for name in STRINGS})
    frame["lines"] = pd.Series(columns["lines"], dtype=ARRAY).where(ok_type["lines"], None)
    frame["total_amount"] = pd.array(np.where(ok_type["total_amount"], np.asarray(columns["total_amount"],
                                              dtype=object), None), dtype="float64[pyarrow]")
    frame["quantity"] = pd.array(np.where(ok_type["quantity"], np.asarray(columns["quantity"], dtype=object),
                                          None), dtype="int64[pyarrow]")
    keep = ok_type["event_id"] & ok_type["event_time"]
    kind = frame["event_type"]
    for event_type, fields in REQUIRED.items():
        is_kind = (kind == event_type).fillna(False).to_numpy(dtype=bool)
        fine = np.logical_and.reduce([ok_type[f] for f in fields])
        keep &= ~is_kind | fine
    keep &= kind.isin(list(REQUIRED)).fillna(False).to_numpy(dtype=bool)
    orders = (kind == "order_created").fillna(False).to_numpy(dtype=bool)
    keep &= ~orders | ((frame["currency"] == "USD").fillna(False).to_numpy(dtype=bool)
                       & (frame["total_amount"] >= 0).fillna(False).to_numpy(dtype=bool)
                       & good_lines(frame["lines"]))
    carts = (kind == "add_to_cart").fillna(False).to_numpy(dtype=bool)
    keep &= ~carts | (frame["quantity"] > 0).fillna(False).to_numpy(dtype=bool)
    return frame[keep]


def good_lines(lines: pd.Series) -> np.ndarray:
    """Orders whose every line has an integer quantity > 0 and a numeric unit price >= 0."""
    exploded = lines.explode()
    is_dict = typed_mask(exploded.tolist(), dict)
    items = pd.DataFrame({"order": exploded.index[is_dict]})
    detail = exploded[is_dict]
    items["quantity"] = [d.get("quantity") for d in detail]
    items["unit_price"] = [d.get("unit_price") for d in detail]
    qty_ok = typed_mask(items["quantity"].tolist(), int)
    price_ok = typed_mask(items["unit_price"].tolist(), int, float)
    fine = qty_ok & price_ok
    fine[fine] = (items["quantity"][fine].astype("int64") > 0).to_numpy() \
        & (items["unit_price"][fine].astype("float64") >= 0).to_numpy()
    bad = set(exploded.index[~is_dict & exploded.notna().to_numpy()]) | set(items["order"][~fine])
    empty = lines.map(lambda v: isinstance(v, list) and not v).to_numpy(dtype=bool)
    return ~lines.index.isin(list(bad)) & ~empty


def main(landing: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    records, columns = parse(landing)
    valid = valid_events(columns)
    kept = valid[~valid["event_id"].duplicated()]
    is_order = (kept["event_type"] == "order_created").to_numpy(dtype=bool)
    repeat = np.zeros(len(kept), dtype=bool)
    repeat[is_order] = kept["order_id"][is_order].duplicated().to_numpy()
    kept = kept[~repeat]
    kept["event_time"] = pd.to_datetime(kept["event_time"], utc=True, format="ISO8601").astype(
        pd.ArrowDtype(pa.timestamp("us", tz="UTC")))
    kept["event_date"] = kept["event_time"].dt.date.astype(pd.ArrowDtype(pa.date32()))
    kinds = kept["event_type"]
    orders = kept[(kinds == "order_created").to_numpy(dtype=bool)]
    views = kept[(kinds == "product_viewed").to_numpy(dtype=bool)].drop(columns="lines")
    carts = kept[(kinds == "add_to_cart").to_numpy(dtype=bool)].drop(columns="lines")

    items = orders["lines"].explode()
    head = orders.loc[items.index, ["order_id", "event_date", "store_id"]].reset_index(drop=True)
    lines = head.assign(
        product_id=pd.array([i.get("product_id") for i in items], dtype=STR),
        quantity=pd.array([i["quantity"] for i in items], dtype="int64[pyarrow]"),
        unit_price=pd.array([i["unit_price"] for i in items], dtype="float64[pyarrow]"),
        discount=pd.array([i.get("discount") for i in items], dtype="float64[pyarrow]").fillna(0.0))
    lines["revenue"] = (lines["quantity"] * lines["unit_price"] - lines["discount"]).round(2)
    products = pd.read_json(landing / "reference" / "products.jsonl", lines=True,
                            dtype_backend="pyarrow")[["product_id", "category"]]
    lines = lines.merge(products, on="product_id", how="left")
    lines["category"] = lines["category"].fillna("unknown")
    keys = ["event_date", "product_id", "category"]
    daily = lines.groupby(keys, observed=True, sort=False).agg(
        units=("quantity", "sum"), revenue=("revenue", "sum"), orders=("order_id", "nunique")).reset_index()
    category = lines.groupby(["event_date", "category"], observed=True, sort=False).agg(
        revenue=("revenue", "sum"), orders=("order_id", "nunique"), units=("quantity", "sum"))
    browse = pd.concat([views, carts])[["event_date", "event_type", "product_id"]].merge(
        products, on="product_id", how="left")
    browse["category"] = browse["category"].fillna("unknown")
    funnel = browse.groupby(["event_date", "category", "event_type"], observed=True).size().unstack(fill_value=0)
    funnel = funnel.join(category["orders"], how="outer").fillna(0).reset_index()

    out.mkdir(parents=True, exist_ok=True)
    for name, table in {"orders": orders.drop(columns="lines"), "order_lines": lines, "product_views": views,
                        "cart_adds": carts, "daily_sales": daily, "category_revenue": category.reset_index(),
                        "funnel_daily": funnel}.items():
        table.dropna(axis=1, how="all").to_parquet(out / f"{name}.parquet", index=False)
    return {"peer": "pandas", "records": records, "seconds": round(time.perf_counter() - started, 1),
            "orders": len(orders), "order_lines": len(lines), "product_views": len(views), "cart_adds": len(carts),
            "rejected": records - len(valid), "duplicates": len(valid) - len(kept),
            "revenue": round(float(lines["revenue"].sum()), 2)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
