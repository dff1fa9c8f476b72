-- gold.sales_by_window: category x store x tumbling window (1 minute, 5 minutes, 1 hour), UTC.
-- A window's event_date is its lines' (the reporting zone's day): in a zone whose offset is not whole
-- hours (Asia/Kolkata) the hour window around local midnight has one row for each of its two days,
-- so a day's partition holds exactly that day's lines and a rebuild of days stays exact.
-- orders counts distinct orders with at least one line in the category; average order value is
-- the category's revenue over those orders (a DOUBLE ratio, not money: round when showing it).
-- The batch's Silver lines are added to prior_sales_by_window (the current rows of the time range
-- the batch touched; see category_revenue); updated_at moves only on windows the batch changed.
WITH lines AS (
    SELECT l.order_id, l.store_id, l.event_time, l.event_date, l.quantity, l.revenue,
           COALESCE(p.category, 'unknown') AS category
    FROM silver_order_lines l
    LEFT JOIN ref_products p ON p.product_id = l.product_id
),
windows(window_size, seconds) AS (
    VALUES ('1m', 60), ('5m', 300), ('1h', 3600)
),
bucketed AS (
    SELECT w.window_size, w.seconds,
        to_timestamp(floor(epoch(l.event_time) / w.seconds) * w.seconds) AS window_start,
        l.event_date, l.category, l.store_id, l.order_id, l.quantity, l.revenue
    FROM lines l CROSS JOIN windows w
),
batch AS (
    SELECT window_size, window_start,
        window_start + to_seconds(seconds) AS window_end,
        event_date,
        category, store_id,
        CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue,
        count(DISTINCT order_id) AS orders,
        CAST(sum(quantity) AS BIGINT) AS units,
        {{ updated_at }} AS updated_at
    FROM bucketed
    GROUP BY window_size, seconds, window_start, event_date, category, store_id
),
merged AS (
    SELECT window_size, window_start, window_end, event_date, category, store_id,
        CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue, CAST(sum(orders) AS BIGINT) AS orders,
        CAST(sum(units) AS BIGINT) AS units, max(updated_at) AS updated_at
    FROM (
        SELECT window_size, window_start, window_end, event_date, category, store_id, revenue, orders, units,
            updated_at
        FROM batch
        UNION ALL
        SELECT window_size, window_start, window_end, event_date, category, store_id, revenue, orders, units,
            updated_at
        FROM prior_sales_by_window
    ) u
    GROUP BY window_size, window_start, window_end, event_date, category, store_id
)
SELECT window_size, window_start, window_end, event_date, category, store_id, revenue, orders, units,
    CAST(revenue AS DOUBLE) / orders AS avg_order_value, updated_at
FROM merged
