-- gold.funnel_daily: views -> carts -> orders per category x day, with conversion rates.
-- The batch's Silver events are added to prior_funnel_daily (see category_revenue).
WITH views AS (
    SELECT v.event_date, COALESCE(p.category, 'unknown') AS category, count(*) AS views
    FROM silver_product_views v LEFT JOIN ref_products p ON p.product_id = v.product_id
    GROUP BY 1, 2
),
carts AS (
    SELECT c.event_date, COALESCE(p.category, 'unknown') AS category, count(*) AS carts
    FROM silver_cart_adds c LEFT JOIN ref_products p ON p.product_id = c.product_id
    GROUP BY 1, 2
),
orders AS (
    SELECT l.event_date, COALESCE(p.category, 'unknown') AS category, count(DISTINCT l.order_id) AS orders
    FROM silver_order_lines l LEFT JOIN ref_products p ON p.product_id = l.product_id
    GROUP BY 1, 2
),
merged AS (
    SELECT event_date, category, CAST(sum(views) AS BIGINT) AS views, CAST(sum(carts) AS BIGINT) AS carts,
        CAST(sum(orders) AS BIGINT) AS orders
    FROM (
        SELECT event_date, category, views, 0 AS carts, 0 AS orders FROM views
        UNION ALL SELECT event_date, category, 0 AS views, carts, 0 AS orders FROM carts
        UNION ALL SELECT event_date, category, 0 AS views, 0 AS carts, orders FROM orders
        UNION ALL SELECT event_date, category, views, carts, orders FROM prior_funnel_daily
    ) u
    GROUP BY event_date, category
)
SELECT event_date, category, views, carts, orders,
    CAST(carts AS DOUBLE) / NULLIF(views, 0) AS view_to_cart,
    CAST(orders AS DOUBLE) / NULLIF(carts, 0) AS cart_to_order,
    CAST(orders AS DOUBLE) / NULLIF(views, 0) AS view_to_order
FROM merged
