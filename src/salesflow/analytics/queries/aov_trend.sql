-- Average order value per day and over a trailing 7-day window.
-- param start_date DATE = 1900-01-01
-- param end_date DATE = 9999-12-31
WITH daily AS (
    SELECT event_date AS day, sum(revenue) AS revenue, count(DISTINCT order_id) AS orders
    FROM fact_sales GROUP BY event_date
),
trend AS (
    SELECT day, revenue, orders,
        CAST(revenue AS DOUBLE) / orders AS avg_order_value,
        CAST(sum(revenue) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS DOUBLE)
            / sum(orders) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS avg_order_value_7d
    FROM daily
)
SELECT day, revenue, orders, avg_order_value, avg_order_value_7d
FROM trend
WHERE day BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
ORDER BY day
