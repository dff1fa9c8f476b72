-- gold.funnel_daily: views -> carts -> orders per category x day, with conversion rates.
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
keys AS (
    SELECT event_date, category FROM views
    UNION SELECT event_date, category FROM carts
    UNION SELECT event_date, category FROM orders
)
SELECT k.event_date, k.category,
    COALESCE(v.views, 0) AS views,
    COALESCE(c.carts, 0) AS carts,
    COALESCE(o.orders, 0) AS orders,
    CAST(COALESCE(c.carts, 0) AS DOUBLE) / NULLIF(v.views, 0) AS view_to_cart,
    CAST(COALESCE(o.orders, 0) AS DOUBLE) / NULLIF(c.carts, 0) AS cart_to_order,
    CAST(COALESCE(o.orders, 0) AS DOUBLE) / NULLIF(v.views, 0) AS view_to_order
FROM keys k
LEFT JOIN views v USING (event_date, category)
LEFT JOIN carts c USING (event_date, category)
LEFT JOIN orders o USING (event_date, category)
