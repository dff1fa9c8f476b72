"""Peer: the Silver/Gold work as one plain DuckDB SQL script, what a data engineer who wants no
framework writes.

The same rules as the pandas peer (bench/peers/pandas_job.py): known event type, required fields
with their JSON types, positive quantities, non-negative amounts, the reporting currency; repeats
dropped by event_id, then order_id (first in landing order wins); order lines exploded; Silver
(orders, order lines, views, carts) and Gold (daily sales per product, revenue per category and
day, the funnel) written as Parquet. No Delta, no quality suites, no reconciliation, no lineage.

Tuned as DuckDB's performance guide suggests: one pass over the text (read_csv of whole lines),
one json_transform per record into typed columns, joins on integer keys, no ORDER BY on the
output, insertion order not preserved, every core used, Parquet written by COPY (zstd).

    python bench/peers/duckdb_job.py LANDING_DIR OUT_DIR   -> one JSON line of facts
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

TYPES = "'BIGINT', 'UBIGINT'"
NUMBERS = "'BIGINT', 'UBIGINT', 'DOUBLE'"
SCRIPT = r"""
SET TimeZone = 'UTC';
-- One line per record, in landing order (the order "first wins" means); a line that is not UTF-8 is
-- a rejected record (counted from reject_errors).
CREATE TEMP TABLE raw AS
SELECT row_number() OVER () AS seq, line
FROM read_csv('{landing}/*.jsonl', delim = chr(1), quote = '', escape = '', header = false, auto_detect = false,
              columns = {{'line': 'VARCHAR'}}, new_line = '\n', ignore_errors = true, store_rejects = true)
WHERE line <> '';
SET preserve_insertion_order = false;

CREATE TEMP TABLE parsed AS
SELECT seq, j.*, json_type(j.event_id) AS event_id_t, json_type(j.event_time) AS event_time_t,
    json_type(j.order_id) AS order_id_t, json_type(j.customer_id) AS customer_id_t,
    json_type(j.store_id) AS store_id_t, json_type(j.channel) AS channel_t, json_type(j.currency) AS currency_t,
    json_type(j.payment_method) AS payment_method_t, json_type(j.lines) AS lines_t,
    json_type(j.total_amount) AS total_amount_t, json_type(j.session_id) AS session_id_t,
    json_type(j.product_id) AS product_id_t, json_type(j.quantity) AS quantity_t
FROM (
    SELECT seq, json_transform(line, '{{"event_type":"JSON","event_id":"JSON","event_time":"JSON","order_id":"JSON",
        "customer_id":"JSON","store_id":"JSON","channel":"JSON","currency":"JSON","payment_method":"JSON",
        "lines":"JSON","total_amount":"JSON","session_id":"JSON","product_id":"JSON","quantity":"JSON"}}') AS j
    FROM raw
    WHERE strlen(line) <= 1048576 AND json_valid(line) AND starts_with(line, '{{')
);

CREATE TEMP TABLE valid AS
WITH typed AS (
    SELECT seq, json_extract_string(event_type, '$') AS event_type, json_extract_string(event_id, '$') AS event_id,
        CAST(json_extract_string(event_time, '$') AS TIMESTAMPTZ) AS event_time,
        json_extract_string(order_id, '$') AS order_id, json_extract_string(customer_id, '$') AS customer_id,
        json_extract_string(store_id, '$') AS store_id, json_extract_string(channel, '$') AS channel,
        json_extract_string(currency, '$') AS currency, json_extract_string(payment_method, '$') AS payment_method,
        lines, CAST(CAST(total_amount AS VARCHAR) AS DOUBLE) AS total_amount,
        json_extract_string(session_id, '$') AS session_id, json_extract_string(product_id, '$') AS product_id,
        TRY_CAST(CAST(quantity AS VARCHAR) AS BIGINT) AS quantity,
        event_type_ok, common_ok, order_ok, browse_ok, cart_ok
    FROM (
        SELECT *, json_type(event_type) = 'VARCHAR' AND json_extract_string(event_type, '$') IN
                ('order_created', 'product_viewed', 'add_to_cart') AS event_type_ok,
            event_id_t = 'VARCHAR' AND event_time_t = 'VARCHAR' AS common_ok,
            order_id_t = 'VARCHAR' AND customer_id_t = 'VARCHAR' AND store_id_t = 'VARCHAR'
                AND channel_t = 'VARCHAR' AND currency_t = 'VARCHAR' AND payment_method_t = 'VARCHAR'
                AND lines_t = 'ARRAY' AND total_amount_t IN ({numbers}) AS order_ok,
            session_id_t = 'VARCHAR' AND product_id_t = 'VARCHAR' AND store_id_t = 'VARCHAR'
                AND channel_t = 'VARCHAR' AS browse_ok,
            quantity_t IN ({integers}) AS cart_ok
        FROM parsed
    )
    WHERE event_type_ok AND common_ok
),
candidates AS (
    SELECT * FROM typed
    WHERE (event_type = 'order_created' AND order_ok AND currency = 'USD' AND CAST(lines AS VARCHAR) <> '[]'
           AND total_amount >= 0)
       OR (event_type = 'product_viewed' AND browse_ok)
       OR (event_type = 'add_to_cart' AND browse_ok AND cart_ok AND quantity > 0)
),
order_items AS (
    SELECT seq, unnest(json_extract(lines, '$[*]')) AS item FROM candidates WHERE event_type = 'order_created'
),
bad_orders AS (
    SELECT DISTINCT seq FROM order_items
    WHERE json_type(item) <> 'OBJECT' OR json_type(item, '$.quantity') NOT IN ({integers})
       OR json_type(item, '$.unit_price') NOT IN ({numbers})
       OR TRY_CAST(json_extract_string(item, '$.quantity') AS BIGINT) <= 0
       OR CAST(json_extract_string(item, '$.unit_price') AS DOUBLE) < 0
)
SELECT c.* FROM candidates c ANTI JOIN bad_orders b USING (seq);

CREATE TEMP TABLE kept AS
WITH first_event AS (
    SELECT * FROM valid QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY seq) = 1
)
SELECT * FROM first_event WHERE event_type <> 'order_created'
UNION ALL
SELECT * FROM first_event WHERE event_type = 'order_created'
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY seq) = 1;

CREATE TEMP TABLE order_lines AS
SELECT o.order_id, CAST(o.event_time AS DATE) AS event_date, o.store_id,
    json_extract_string(i.item, '$.product_id') AS product_id,
    CAST(json_extract_string(i.item, '$.quantity') AS BIGINT) AS quantity,
    CAST(json_extract_string(i.item, '$.unit_price') AS DECIMAL(18, 2)) AS unit_price,
    COALESCE(TRY_CAST(json_extract_string(i.item, '$.discount') AS DECIMAL(18, 2)), 0) AS discount
FROM kept o, (SELECT seq, unnest(json_extract(lines, '$[*]')) AS item FROM kept
              WHERE event_type = 'order_created') i
WHERE i.seq = o.seq;

CREATE TEMP TABLE products AS
SELECT product_id, category FROM read_json('{landing}/reference/products.jsonl', format = 'newline_delimited');

CREATE TEMP TABLE lines_c AS
SELECT l.*, l.quantity * l.unit_price - l.discount AS revenue, COALESCE(p.category, 'unknown') AS category
FROM order_lines l LEFT JOIN products p USING (product_id);

COPY (SELECT * EXCLUDE (lines) FROM kept WHERE event_type = 'order_created')
    TO '{out}/orders.parquet' (COMPRESSION zstd);
COPY lines_c TO '{out}/order_lines.parquet' (COMPRESSION zstd);
COPY (SELECT seq, event_id, event_time, session_id, product_id, store_id, channel FROM kept
      WHERE event_type = 'product_viewed') TO '{out}/product_views.parquet' (COMPRESSION zstd);
COPY (SELECT seq, event_id, event_time, session_id, product_id, store_id, channel, quantity FROM kept
      WHERE event_type = 'add_to_cart') TO '{out}/cart_adds.parquet' (COMPRESSION zstd);
COPY (SELECT event_date, product_id, category, sum(quantity) AS units, sum(revenue) AS revenue,
          count(DISTINCT order_id) AS orders FROM lines_c GROUP BY ALL)
    TO '{out}/daily_sales.parquet' (COMPRESSION zstd);
COPY (SELECT event_date, category, sum(revenue) AS revenue, count(DISTINCT order_id) AS orders,
          sum(quantity) AS units FROM lines_c GROUP BY ALL) TO '{out}/category_revenue.parquet' (COMPRESSION zstd);
COPY (
    WITH events AS (
        SELECT CAST(k.event_time AS DATE) AS event_date, COALESCE(p.category, 'unknown') AS category, k.event_type
        FROM kept k LEFT JOIN products p USING (product_id) WHERE k.event_type <> 'order_created'
    )
    SELECT coalesce(e.event_date, o.event_date) AS event_date, coalesce(e.category, o.category) AS category,
        COALESCE(e.views, 0) AS views, COALESCE(e.carts, 0) AS carts, COALESCE(o.orders, 0) AS orders
    FROM (SELECT event_date, category, count(*) FILTER (WHERE event_type = 'product_viewed') AS views,
              count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts FROM events GROUP BY ALL) e
    FULL JOIN (SELECT event_date, category, count(DISTINCT order_id) AS orders FROM lines_c GROUP BY ALL) o
        USING (event_date, category)
) TO '{out}/funnel_daily.parquet' (COMPRESSION zstd);
"""


def main(landing: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(SCRIPT.format(landing=landing, out=out, integers=TYPES, numbers=NUMBERS))
    [(records,)] = con.execute("SELECT (SELECT count(*) FROM raw) + (SELECT count(*) FROM reject_errors)").fetchall()
    [(valid,)] = con.execute("SELECT count(*) FROM valid").fetchall()
    counts = dict(con.execute("SELECT event_type, count(*) FROM kept GROUP BY event_type").fetchall())
    [(lines, revenue)] = con.execute("SELECT count(*), sum(revenue) FROM lines_c").fetchall()
    kept = sum(counts.values())
    return {"peer": "duckdb", "records": records, "seconds": round(time.perf_counter() - started, 1),
            "orders": counts.get("order_created", 0), "order_lines": lines,
            "product_views": counts.get("product_viewed", 0), "cart_adds": counts.get("add_to_cart", 0),
            "rejected": records - valid, "duplicates": valid - kept, "revenue": round(float(revenue or 0), 2)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
