-- reports.sample_window: the top category of the busiest hour on the latest day, all stores.
WITH hourly AS (
    SELECT window_start, event_date, category,
        sum(revenue) AS total_revenue,
        sum(orders) AS order_count
    FROM gold_sales_by_window
    WHERE window_size = '1h'
    GROUP BY window_start, event_date, category
)
SELECT category,
    CAST(total_revenue AS DOUBLE) AS total_revenue,
    CAST(order_count AS BIGINT) AS order_count,
    CAST(round(total_revenue / order_count, 2) AS DOUBLE) AS avg_order_value,
    strftime(window_start, '%Y-%m-%dT%H:%M:%SZ') AS window_start
FROM hourly
WHERE event_date = (SELECT max(event_date) FROM hourly)
ORDER BY total_revenue DESC, window_start, category
LIMIT 1
