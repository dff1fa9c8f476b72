-- Daily revenue and orders with day-over-day and week-over-week growth (days without sales count as 0),
-- optionally for one category and/or one store. `complete` is false for a first or last day the
-- data covers only in part: the last day when its newest sale is earlier in the (UTC) day than the
-- newest sale of each of the 28 days before it (a load that stopped at 14:05, not a shop that
-- closes at 20:00), the first day likewise by its first sale; `last_event_at` is the day's newest sale.
-- param start_date DATE = 1900-01-01
-- param end_date DATE = 9999-12-31
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH bounds AS (
    SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM fact_sales
),
daily AS (
    SELECT d.date AS day, COALESCE(sum(f.revenue), 0) AS revenue, count(DISTINCT f.order_id) AS orders,
        max(f.event_time) AS last_event_at,
        min(CAST(extract(epoch FROM f.event_time) AS BIGINT) % 86400) AS first_second,
        max(CAST(extract(epoch FROM f.event_time) AS BIGINT) % 86400) AS last_second
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
usual AS (
    SELECT
        (SELECT min(x.last_second) FROM daily x WHERE x.day < b.last_day AND x.day >= b.last_day - 28)
            AS closes_by,
        (SELECT max(x.first_second) FROM daily x WHERE x.day > b.first_day AND x.day <= b.first_day + 28)
            AS opens_by
    FROM bounds b
),
growth AS (
    SELECT day, revenue, orders, last_event_at,
        CASE WHEN day = b.last_day AND daily.last_second < u.closes_by THEN FALSE
             WHEN day = b.first_day AND daily.first_second > u.opens_by THEN FALSE
             ELSE TRUE END AS complete,
        CAST(revenue - lag(revenue, 1) OVER (ORDER BY day) AS DOUBLE)
            / NULLIF(CAST(lag(revenue, 1) OVER (ORDER BY day) AS DOUBLE), 0) AS dod_growth,
        CAST(revenue - lag(revenue, 7) OVER (ORDER BY day) AS DOUBLE)
            / NULLIF(CAST(lag(revenue, 7) OVER (ORDER BY day) AS DOUBLE), 0) AS wow_growth
    FROM daily CROSS JOIN bounds b CROSS JOIN usual u
)
SELECT day, revenue, orders, dod_growth, wow_growth, complete, last_event_at
FROM growth
WHERE day BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
ORDER BY day
