-- Daily revenue and orders with day-over-day and week-over-week growth (days without sales count as 0),
-- optionally for one category and/or one store. `complete` is false for a first or last day the
-- data covers only in part (the warehouse view v_day_coverage); `last_event_at` is the day's newest sale.
-- revenue is net: gross_revenue (sales and value lines) less returns (refunded, a positive number).
-- param start_date DATE = 1900-01-01
-- param end_date DATE = 9999-12-31
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH bounds AS (
    SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM fact_sales
),
daily AS (
    SELECT d.date AS day, COALESCE(sum(f.revenue), 0) AS revenue,
        COALESCE(sum(CASE WHEN f.quantity >= 0 THEN f.revenue END), 0) AS gross_revenue,
        COALESCE(-sum(CASE WHEN f.quantity < 0 THEN f.revenue END), 0) AS returns,
        count(DISTINCT f.order_id) AS orders,
        max(f.event_time) AS last_event_at
    FROM dim_date d
    CROSS JOIN bounds b
    LEFT JOIN fact_sales f ON f.date_key = d.date_key
        AND (CAST($category AS TEXT) IS NULL OR f.product_key IN
             (SELECT product_key FROM dim_product WHERE category = CAST($category AS TEXT)))
        AND (CAST($store_id AS TEXT) IS NULL OR f.store_key IN
             (SELECT store_key FROM dim_store WHERE store_id = CAST($store_id AS TEXT)))
    WHERE d.date BETWEEN b.first_day AND b.last_day
    GROUP BY d.date
),
growth AS (
    SELECT daily.day, revenue, gross_revenue, returns, orders, last_event_at, COALESCE(c.complete, TRUE) AS complete,
        CAST(revenue - lag(revenue, 1) OVER (ORDER BY daily.day) AS DOUBLE)
            / NULLIF(CAST(lag(revenue, 1) OVER (ORDER BY daily.day) AS DOUBLE), 0) AS dod_growth,
        CAST(revenue - lag(revenue, 7) OVER (ORDER BY daily.day) AS DOUBLE)
            / NULLIF(CAST(lag(revenue, 7) OVER (ORDER BY daily.day) AS DOUBLE), 0) AS wow_growth
    FROM daily LEFT JOIN v_day_coverage c ON c.day = daily.day
)
SELECT day, revenue, gross_revenue, returns, orders, dod_growth, wow_growth, complete, last_event_at
FROM growth
WHERE day BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
ORDER BY day
