-- Products ranked by revenue and by units in a date range (rank by revenue decides the top N).
-- param start_date DATE = 1900-01-01
-- param end_date DATE = 9999-12-31
-- param top_n INTEGER = 20
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH by_product AS (
    SELECT p.product_id, sum(f.revenue) AS revenue, sum(f.quantity) AS units, count(DISTINCT f.order_id) AS orders
    FROM fact_sales f JOIN dim_product p ON p.product_key = f.product_key
    WHERE f.event_date BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
      AND (CAST($category AS TEXT) IS NULL OR p.category = CAST($category AS TEXT))
      AND (CAST($store_id AS TEXT) IS NULL OR f.store_key IN
           (SELECT store_key FROM dim_store WHERE store_id = CAST($store_id AS TEXT)))
    GROUP BY p.product_id
),
ranked AS (
    SELECT product_id, revenue, units, orders,
        rank() OVER (ORDER BY revenue DESC) AS revenue_rank,
        rank() OVER (ORDER BY units DESC) AS units_rank
    FROM by_product
)
SELECT r.revenue_rank, r.units_rank, r.product_id, p.name, p.category, r.revenue, r.units, r.orders
FROM ranked r
JOIN dim_product p ON p.product_id = r.product_id AND p.is_current
WHERE r.revenue_rank <= $top_n
ORDER BY r.revenue_rank, r.product_id
