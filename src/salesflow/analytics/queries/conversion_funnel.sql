-- Views -> carts -> orders per category over a date range, with conversion rates (the funnel is
-- counted per category and day; it has no store).
-- param start_date DATE = 1900-01-01
-- param end_date DATE = 9999-12-31
-- param category TEXT = NULL
SELECT category, sum(views) AS views, sum(carts) AS carts, sum(orders) AS orders,
    CAST(sum(carts) AS DOUBLE) / NULLIF(sum(views), 0) AS view_to_cart,
    CAST(sum(orders) AS DOUBLE) / NULLIF(sum(carts), 0) AS cart_to_order,
    CAST(sum(orders) AS DOUBLE) / NULLIF(sum(views), 0) AS view_to_order
FROM agg_funnel_daily
WHERE event_date BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
  AND (CAST($category AS TEXT) IS NULL OR category = CAST($category AS TEXT))
GROUP BY category
ORDER BY view_to_order DESC, category
