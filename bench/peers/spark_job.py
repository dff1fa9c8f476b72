"""Peer: the Silver/Gold work as plain PySpark (batch) and as Structured Streaming (file source).

Same rules as the pandas peer (bench/peers/pandas_job.py), written the way a Spark user would:
``from_json`` with the contract's schema, ``dropDuplicates`` (batch) or
``dropDuplicatesWithinWatermark`` (streaming, 72 h on event time), ``explode`` of order lines,
``groupBy`` aggregates, Parquet out. The streaming job reads the landing segments with
``maxFilesPerTrigger`` and the ``availableNow`` trigger, and appends each micro-batch's Silver rows
and partial Gold aggregates in ``foreachBatch``.

    python bench/peers/spark_job.py batch|stream LANDING_DIR OUT_DIR   -> one JSON line of facts
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

SCHEMA = ("event_type string, event_id string, event_time string, order_id string, customer_id string, "
          "session_id string, store_id string, product_id string, channel string, currency string, "
          "payment_method string, total_amount double, quantity bigint, "
          "lines array<struct<product_id: string, quantity: bigint, unit_price: double, discount: double>>")
REQUIRED = {
    "order_created": ["order_id", "customer_id", "store_id", "channel", "currency", "payment_method", "lines",
                      "total_amount"],
    "product_viewed": ["session_id", "product_id", "store_id", "channel"],
    "add_to_cart": ["session_id", "product_id", "store_id", "channel", "quantity"],
}


def session() -> SparkSession:
    spark = (SparkSession.builder.master("local[2]").appName("peer")
             .config("spark.sql.shuffle.partitions", "8").config("spark.driver.memory", "6g")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def valid(raw: DataFrame) -> DataFrame:
    """Parsed, typed events that pass the rules; the rest are dropped (counted by the caller)."""
    e = raw.select(F.from_json("value", SCHEMA).alias("e"), F.length("value").alias("size")).select("e.*", "size")
    ok = F.col("event_id").isNotNull() & F.col("event_time").isNotNull() & (F.col("size") <= 1_048_576)
    kind = F.lit(False)
    for event_type, fields in REQUIRED.items():
        kind = kind | ((F.col("event_type") == event_type) & F.expr(" AND ".join(f"{f} IS NOT NULL" for f in fields)))
    rules = ok & kind & F.expr(
        "CASE event_type WHEN 'order_created' THEN currency = 'USD' AND size(lines) > 0 AND total_amount >= 0 "
        "AND forall(lines, l -> l.quantity > 0 AND l.unit_price >= 0) "
        "WHEN 'add_to_cart' THEN quantity > 0 ELSE TRUE END")
    return e.where(rules).withColumn("event_time", F.to_timestamp("event_time")) \
        .withColumn("event_date", F.to_date("event_time"))


def silver_gold(events: DataFrame, products: DataFrame) -> dict[str, DataFrame]:
    orders = events.where("event_type = 'order_created'")
    lines = orders.select("order_id", "event_date", "store_id", F.explode("lines").alias("l")).select(
        "order_id", "event_date", "store_id", "l.product_id", "l.quantity", "l.unit_price",
        F.coalesce("l.discount", F.lit(0.0)).alias("discount"))
    lines = lines.withColumn("revenue", F.round(F.col("quantity") * F.col("unit_price") - F.col("discount"), 2)) \
        .join(F.broadcast(products), "product_id", "left").fillna({"category": "unknown"})
    views = events.where("event_type = 'product_viewed'")
    carts = events.where("event_type = 'add_to_cart'")
    daily = lines.groupBy("event_date", "product_id", "category").agg(
        F.sum("quantity").alias("units"), F.sum("revenue").alias("revenue"), F.countDistinct("order_id").alias("orders")
    )
    category = lines.groupBy("event_date", "category").agg(
        F.sum("revenue").alias("revenue"), F.countDistinct("order_id").alias("orders"), F.sum("quantity").alias("units")
    )
    return {"orders": orders.drop("lines"), "order_lines": lines, "product_views": views.drop("lines"),
            "cart_adds": carts.drop("lines"), "daily_sales": daily, "category_revenue": category}


def batch(spark: SparkSession, landing: Path, out: Path) -> dict[str, Any]:
    raw = spark.read.text(str(landing / "*.jsonl")).cache()
    records = raw.count()
    events = valid(raw).cache()
    accepted = events.count()
    deduped = events.dropDuplicates(["event_id"])
    orders = deduped.where("event_type = 'order_created'").dropDuplicates(["order_id"])
    deduped = orders.unionByName(deduped.where("event_type <> 'order_created'")).cache()
    tables = silver_gold(deduped, products(spark, landing))
    for name, frame in tables.items():
        frame.write.mode("overwrite").parquet(str(out / name))
    return facts(spark, out, records, records - accepted, accepted - deduped.count())


def stream(spark: SparkSession, landing: Path, out: Path) -> dict[str, Any]:
    prods = products(spark, landing).cache()
    raw = spark.readStream.format("text").option("maxFilesPerTrigger", 8).load(str(landing / "*.jsonl"))
    events = valid(raw).withWatermark("event_time", "72 hours") \
        .dropDuplicatesWithinWatermark(["event_id"])

    def each(frame: DataFrame, epoch: int) -> None:
        frame = frame.cache()
        orders = frame.where("event_type = 'order_created'").dropDuplicates(["order_id"])
        frame = orders.unionByName(frame.where("event_type <> 'order_created'"))
        for name, table in silver_gold(frame, prods).items():
            table.write.mode("append").parquet(str(out / name))

    query = events.writeStream.foreachBatch(each).option("checkpointLocation", str(out / "_checkpoint")) \
        .trigger(availableNow=True).start()
    query.awaitTermination()
    records = spark.read.text(str(landing / "*.jsonl")).count()
    return facts(spark, out, records, None, None)


def products(spark: SparkSession, landing: Path) -> DataFrame:
    return spark.read.json(str(landing / "reference" / "products.jsonl")).select("product_id", "category")


def facts(spark: SparkSession, out: Path, records: int, rejected: int | None, duplicates: int | None) -> dict[str, Any]:
    counts = {name: spark.read.parquet(str(out / name)).count()
              for name in ("orders", "order_lines", "product_views", "cart_adds")}
    revenue = spark.read.parquet(str(out / "order_lines")).agg(F.sum("revenue")).first()[0]
    return {"records": records, **counts, "rejected": rejected, "duplicates": duplicates,
            "revenue": round(float(revenue or 0), 2)}


def main(mode: str, landing: Path, out: Path) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    spark = session()
    result = batch(spark, landing, out) if mode == "batch" else stream(spark, landing, out)
    spark.stop()
    return {"peer": f"pyspark {mode}", **result, "seconds": round(time.perf_counter() - started, 1)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))
