-- Categories ranked by revenue in a date range, with units, orders and share of revenue.
-- param start_date DATE = 1900-01-01
-- param end_date DATE = 9999-12-31
-- param top_n INTEGER = 10
WITH sales AS (
    SELECT p.category, f.revenue, f.quantity, f.order_id
    FROM fact_sales f JOIN dim_product p ON p.product_key = f.product_key
    WHERE f.event_date BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
),
by_category AS (
    SELECT category, sum(revenue) AS revenue, sum(quantity) AS units, count(DISTINCT order_id) AS orders
    FROM sales GROUP BY category
),
ranked AS (
    SELECT category, revenue, units, orders,
        CAST(revenue AS DOUBLE) / NULLIF(CAST(sum(revenue) OVER () AS DOUBLE), 0) AS revenue_share,
        rank() OVER (ORDER BY revenue DESC) AS revenue_rank
    FROM by_category
)
SELECT revenue_rank, category, revenue, units, orders, revenue_share
FROM ranked
WHERE revenue_rank <= $top_n
ORDER BY revenue_rank, category
