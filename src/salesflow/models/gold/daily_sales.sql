-- gold.daily_sales: product x day, the demand series forecasting trains on.
SELECT l.event_date, l.product_id, COALESCE(p.category, 'unknown') AS category,
    CAST(sum(l.quantity) AS BIGINT) AS units,
    CAST(sum(l.revenue) AS DECIMAL(18, 2)) AS revenue,
    CAST(sum(l.discount) AS DECIMAL(18, 2)) AS discount,
    count(DISTINCT l.order_id) AS orders,
    CAST(sum(l.quantity * l.unit_price) AS DOUBLE) / sum(l.quantity) AS avg_unit_price,
    CAST(sum(l.discount) AS DOUBLE) / NULLIF(CAST(sum(l.quantity * l.unit_price) AS DOUBLE), 0) AS discount_rate
FROM silver_order_lines l
LEFT JOIN ref_products p ON p.product_id = l.product_id
GROUP BY l.event_date, l.product_id, COALESCE(p.category, 'unknown')
