-- gold.category_revenue: category x day. orders counts distinct orders touching the category.
-- The batch's Silver lines are added to prior_category_revenue (the days' current rows; empty
-- when whole days are computed): every measure adds up, since an order is in one batch only.
-- revenue is net: gross_revenue (sales and value lines) less returns (refunded, a positive number).
WITH batch AS (
    SELECT l.event_date, COALESCE(p.category, 'unknown') AS category,
        CAST(sum(l.revenue) AS DECIMAL(18, 2)) AS revenue,
        count(DISTINCT l.order_id) AS orders,
        CAST(sum(l.quantity) AS BIGINT) AS units,
        CAST(COALESCE(sum(l.revenue) FILTER (WHERE l.quantity >= 0), 0) AS DECIMAL(18, 2)) AS gross_revenue,
        CAST(COALESCE(-sum(l.revenue) FILTER (WHERE l.quantity < 0), 0) AS DECIMAL(18, 2)) AS returns
    FROM silver_order_lines l
    LEFT JOIN ref_products p ON p.product_id = l.product_id
    GROUP BY l.event_date, COALESCE(p.category, 'unknown')
),
merged AS (
    SELECT event_date, category, CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue,
        CAST(sum(orders) AS BIGINT) AS orders, CAST(sum(units) AS BIGINT) AS units,
        CAST(sum(gross_revenue) AS DECIMAL(18, 2)) AS gross_revenue, CAST(sum(returns) AS DECIMAL(18, 2)) AS returns
    FROM (
        SELECT event_date, category, revenue, orders, units, gross_revenue, returns FROM batch
        UNION ALL SELECT event_date, category, revenue, orders, units,
            COALESCE(gross_revenue, revenue), COALESCE(returns, 0)  -- rows from before returns
        FROM prior_category_revenue
    ) u
    GROUP BY event_date, category
)
SELECT event_date, category, revenue, orders, units,
    CAST(revenue AS DOUBLE) / orders AS avg_order_value, gross_revenue, returns
FROM merged
