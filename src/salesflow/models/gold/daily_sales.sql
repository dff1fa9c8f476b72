-- gold.daily_sales: product x day, the demand series forecasting trains on.
-- The batch's Silver lines are added to prior_daily_sales (see category_revenue). revenue is net:
-- gross_revenue (sales and value lines) less returns (the refunded revenue of return lines, a
-- positive number); units are net too (a return takes its units back). The line amounts before
-- discount are revenue + discount exactly, so the averages need no extra column.
WITH batch AS (
    SELECT l.event_date, l.product_id, COALESCE(p.category, 'unknown') AS category,
        CAST(sum(l.quantity) AS BIGINT) AS units,
        CAST(sum(l.revenue) AS DECIMAL(18, 2)) AS revenue,
        CAST(COALESCE(sum(l.revenue) FILTER (WHERE l.quantity >= 0), 0) AS DECIMAL(18, 2)) AS gross_revenue,
        CAST(COALESCE(-sum(l.revenue) FILTER (WHERE l.quantity < 0), 0) AS DECIMAL(18, 2)) AS returns,
        CAST(sum(l.discount) AS DECIMAL(18, 2)) AS discount,
        count(DISTINCT l.order_id) AS orders
    FROM silver_order_lines l
    LEFT JOIN ref_products p ON p.product_id = l.product_id
    GROUP BY l.event_date, l.product_id, COALESCE(p.category, 'unknown')
),
merged AS (
    SELECT event_date, product_id, category, CAST(sum(units) AS BIGINT) AS units,
        CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue, CAST(sum(gross_revenue) AS DECIMAL(18, 2)) AS gross_revenue,
        CAST(sum(returns) AS DECIMAL(18, 2)) AS returns, CAST(sum(discount) AS DECIMAL(18, 2)) AS discount,
        CAST(sum(orders) AS BIGINT) AS orders
    FROM (
        SELECT event_date, product_id, category, units, revenue, gross_revenue, returns, discount, orders FROM batch
        UNION ALL SELECT event_date, product_id, category, units, revenue,
            COALESCE(gross_revenue, revenue), COALESCE(returns, 0), discount, orders  -- rows from before returns
        FROM prior_daily_sales
    ) u
    GROUP BY event_date, product_id, category
)
SELECT event_date, product_id, category, units, revenue, discount, orders,
    CAST(revenue + discount AS DOUBLE) / NULLIF(units, 0) AS avg_unit_price,
    CAST(discount AS DOUBLE) / NULLIF(CAST(revenue + discount AS DOUBLE), 0) AS discount_rate,
    gross_revenue, returns
FROM merged
