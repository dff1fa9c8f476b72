-- gold.category_revenue: category x day. orders counts distinct orders touching the category.
SELECT l.event_date, COALESCE(p.category, 'unknown') AS category,
    CAST(sum(l.revenue) AS DECIMAL(18, 2)) AS revenue,
    count(DISTINCT l.order_id) AS orders,
    CAST(sum(l.quantity) AS BIGINT) AS units,
    CAST(sum(l.revenue) AS DOUBLE) / count(DISTINCT l.order_id) AS avg_order_value
FROM silver_order_lines l
LEFT JOIN ref_products p ON p.product_id = l.product_id
GROUP BY l.event_date, COALESCE(p.category, 'unknown')
