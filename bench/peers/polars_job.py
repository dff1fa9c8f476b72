"""Peer: the Silver/Gold work as one Polars lazy query, what a data engineer who likes dataframes
and wants no framework writes.

The same rules as the other peers (bench/peers/duckdb_job.py): known event type, required fields
with their JSON types, positive quantities, non-negative amounts, the reporting currency; repeats
dropped by event_id, then order_id (first in landing order wins); order lines exploded; Silver
(orders, order lines, views, carts) and Gold (daily sales per product, revenue per category and
day, the funnel) written as Parquet. No Delta, no quality suites, no reconciliation, no lineage.

Tuned as the Polars user guide suggests: one lazy plan over all segments (scanned as one text
column, never through Python objects), projections and filters the optimiser can push down, the
JSON typed from each field's raw text (Polars' JSON decoder and ``scan_ndjson`` fail a whole
column on one hostile line, even with ``ignore_errors``, so a field's JSON type is read from the
character after its key, its value by regex, and the line is parsed once, with ``json_path_match``,
to know it is JSON; the order lines by a JSON path), window expressions for "first in landing
order", every core used (Polars' own thread pool), Parquet written with zstd.

Not tuned further, and why: a string field's escapes are not decoded (ids written with backslash escapes
would differ from the other peers'; the workload has none), and the Parquet outputs are written
from collected frames rather than streamed (they are small beside the input).

    python bench/peers/polars_job.py LANDING_DIR OUT_DIR   -> one JSON line of facts
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

STRING, NUMBER, ARRAY = '"', "-0123456789", "["
ORDER_STRINGS = ("order_id", "customer_id", "store_id", "channel", "currency", "payment_method")
BROWSE_STRINGS = ("session_id", "product_id", "store_id", "channel")
FIELDS = ("event_type", "event_id", "event_time", *ORDER_STRINGS, "lines", "total_amount", "session_id",
          "product_id", "quantity")


def kind(field: str) -> pl.Expr:
    """The JSON type of a top-level field, as the first character of its value (null: absent)."""
    return pl.col("line").str.extract(rf'"{field}"\s*:\s*(.)', 1).alias(f"{field}_t")


def value(field: str) -> pl.Expr:
    """The field's value as text: a string's content or a number's digits by regex (Polars' regex
    engine is many times faster than a JSON parse per field); the order lines by a JSON path."""
    if field == "lines":
        return pl.col("line").str.json_path_match("$.lines").alias(field)
    if field in NUMBERS:
        return pl.col("line").str.extract(rf'"{field}"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1).alias(field)
    return pl.col("line").str.extract(rf'"{field}"\s*:\s*"((?:[^"\\]|\\.)*)"', 1).alias(field)


NUMBERS = ("total_amount", "quantity")


def is_(field: str, chars: str) -> pl.Expr:
    return pl.col(f"{field}_t").is_in(list(chars)).fill_null(False)


def records(landing: Path) -> pl.LazyFrame:
    files = sorted(str(p) for p in landing.glob("*.jsonl"))
    return (pl.scan_csv(files, has_header=False, separator="\x01", quote_char=None, new_columns=["line"],
                        schema={"line": pl.String}, encoding="utf8-lossy", truncate_ragged_lines=True)
            .filter(pl.col("line").is_not_null() & (pl.col("line") != ""))
            .with_row_index("seq"))


def flagged(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Every record with its fields and ``ok``: whether it passes the rules (one pass over the text)."""
    typed = raw.with_columns(*(kind(f) for f in FIELDS), *(value(f) for f in FIELDS))
    common = is_("event_type", STRING) & is_("event_id", STRING) & is_("event_time", STRING)
    order = (pl.col("event_type") == "order_created") & pl.all_horizontal(is_(f, STRING) for f in ORDER_STRINGS) \
        & is_("lines", ARRAY) & is_("total_amount", NUMBER) & (pl.col("currency") == "USD") \
        & (pl.col("lines") != "[]") & (pl.col("total_amount").cast(pl.Float64, strict=False) >= 0) \
        & ~_bad_items(pl.col("lines"))
    browse = pl.all_horizontal(is_(f, STRING) for f in BROWSE_STRINGS)
    whole = pl.col("quantity").str.contains(r"^-?\d+$").fill_null(False)
    cart = (pl.col("event_type") == "add_to_cart") & browse & is_("quantity", NUMBER) & whole \
        & (pl.col("quantity").cast(pl.Int64, strict=False) > 0)
    view = (pl.col("event_type") == "product_viewed") & browse
    parses = pl.col("line").str.json_path_match("$.event_type").is_not_null()  # the line is JSON with a type
    ok = (pl.col("line").str.len_bytes() <= 1_048_576) & parses & common & (order | view | cart)
    return typed.with_columns(ok=ok.fill_null(False)).drop("line", *(f"{f}_t" for f in FIELDS))


def _bad_items(lines: pl.Expr) -> pl.Expr:
    """An order line whose quantity is not a positive whole number or whose price is not a
    non-negative number (read from the lines' text: the values' JSON types matter)."""
    return (lines.str.contains(r'"quantity"\s*:\s*([^-0-9\s]|-?\d+[.eE])')
            | lines.str.contains(r'"quantity"\s*:\s*(-\d|0[,}\s])')
            | lines.str.contains(r'"unit_price"\s*:\s*([^0-9\s])')
            | lines.str.contains(r'\{[^{}]*\}').not_()).fill_null(True)


def first_wins(frame: pl.LazyFrame) -> pl.LazyFrame:
    once = frame.filter(pl.col("seq") == pl.col("seq").min().over("event_id"))
    orders = once.filter(pl.col("event_type") == "order_created")
    orders = orders.filter(pl.col("seq") == pl.col("seq").min().over("order_id"))
    return pl.concat([orders, once.filter(pl.col("event_type") != "order_created")])


ITEM = pl.List(pl.Struct({"product_id": pl.String, "quantity": pl.String, "unit_price": pl.String,
                          "discount": pl.String}))


def order_lines(kept: pl.LazyFrame, products: pl.LazyFrame) -> pl.LazyFrame:
    items = (kept.filter(pl.col("event_type") == "order_created")
             .select("order_id", "event_date", "store_id",
                     pl.col("lines").str.json_decode(ITEM).alias("item"))
             .explode("item").unnest("item"))
    return (items.with_columns(pl.col("quantity").cast(pl.Int64), pl.col("unit_price").cast(pl.Decimal(18, 2)),
                               pl.col("discount").cast(pl.Decimal(18, 2), strict=False).fill_null(0))
            .with_columns(revenue=pl.col("quantity") * pl.col("unit_price") - pl.col("discount"))
            .join(products, on="product_id", how="left")
            .with_columns(pl.col("category").fill_null("unknown")))


def main(landing: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    checked = flagged(records(landing)).collect()  # one pass over the landing text
    total, passed = checked.height, int(checked["ok"].sum())
    kept = first_wins(checked.lazy().filter("ok").with_columns(
        event_date=pl.col("event_time").str.to_datetime(time_zone="UTC", time_unit="us").dt.date())).collect()
    products = pl.scan_ndjson(landing / "reference" / "products.jsonl").select("product_id", "category")
    lines = order_lines(kept.lazy(), products).collect()
    events = kept.lazy().filter(pl.col("event_type") != "order_created").join(products, on="product_id", how="left") \
        .with_columns(pl.col("category").fill_null("unknown"))
    orders = kept.filter(pl.col("event_type") == "order_created")
    daily = lines.group_by("event_date", "product_id", "category").agg(
        units=pl.col("quantity").sum(), revenue=pl.col("revenue").sum(), orders=pl.col("order_id").n_unique())
    category = lines.group_by("event_date", "category").agg(
        revenue=pl.col("revenue").sum(), orders=pl.col("order_id").n_unique(), units=pl.col("quantity").sum())
    funnel = events.group_by("event_date", "category").agg(
        views=(pl.col("event_type") == "product_viewed").sum(), carts=(pl.col("event_type") == "add_to_cart").sum()
    ).collect().join(category.select("event_date", "category", "orders"), on=["event_date", "category"],
                     how="full", coalesce=True).fill_null(0)
    for name, table in {"orders": orders.drop("lines", "session_id", "product_id", "quantity", "ok"),
                        "order_lines": lines, "product_views": kept.filter(pl.col("event_type") == "product_viewed"),
                        "cart_adds": kept.filter(pl.col("event_type") == "add_to_cart"), "daily_sales": daily,
                        "category_revenue": category, "funnel_daily": funnel}.items():
        table.write_parquet(out / f"{name}.parquet", compression="zstd")
    counts = dict(kept.group_by("event_type").len().iter_rows())
    return {"peer": "polars", "records": total, "seconds": round(time.perf_counter() - started, 1),
            "orders": counts.get("order_created", 0), "order_lines": lines.height,
            "product_views": counts.get("product_viewed", 0), "cart_adds": counts.get("add_to_cart", 0),
            "rejected": total - passed, "duplicates": passed - kept.height,
            "revenue": round(float(lines["revenue"].sum()), 2)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
