-- Revenue per category and month, with growth against like days of the same category's previous
-- month: as monthly_revenue_growth (the newest, partial month to date against days 1-N of the month
-- before, a last day the data cuts short left out; no growth after a month that is not complete).
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH daily AS (
    SELECT p.category, d.year_month AS month, d.day_of_month, sum(f.revenue) AS revenue
    FROM fact_sales f
    JOIN dim_product p ON p.product_key = f.product_key
    JOIN dim_date d ON d.date_key = f.date_key
    WHERE (CAST($category AS TEXT) IS NULL OR p.category = CAST($category AS TEXT))
      AND (CAST($store_id AS TEXT) IS NULL OR f.store_key IN
           (SELECT store_key FROM dim_store WHERE store_id = CAST($store_id AS TEXT)))
    GROUP BY p.category, d.year_month, d.day_of_month
),
grid AS (
    SELECT c.category, j.month, j.from_day, j.compare_through, j.whole = 1 AS complete,
        lag(j.month) OVER (PARTITION BY c.category ORDER BY j.month) AS previous_month,
        lag(j.whole) OVER (PARTITION BY c.category ORDER BY j.month) AS previous_complete
    FROM v_month_coverage j CROSS JOIN (SELECT DISTINCT category FROM daily) c
),
compared AS (
    SELECT g.category, g.month, g.complete,
        COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.category = g.category AND x.month = g.month), 0)
            AS revenue,
        CASE WHEN g.previous_complete = 1 AND g.from_day = 1 AND g.compare_through >= 1 THEN
            CASE WHEN g.complete THEN 'full month' ELSE 'days 1-' || CAST(g.compare_through AS TEXT) END
        END AS compared_days,
        CASE WHEN g.previous_complete = 1 AND g.from_day = 1 AND g.compare_through >= 1 THEN
            COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.category = g.category AND x.month = g.month
                      AND (g.complete OR x.day_of_month <= g.compare_through)), 0)
        END AS compared_revenue,
        CASE WHEN g.previous_complete = 1 AND g.from_day = 1 AND g.compare_through >= 1 THEN
            COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.category = g.category
                      AND x.month = g.previous_month
                      AND (g.complete OR x.day_of_month <= g.compare_through)), 0)
        END AS previous_revenue
    FROM grid g
)
SELECT category, month, revenue, complete, compared_days, compared_revenue, previous_revenue,
    CAST(compared_revenue - previous_revenue AS DOUBLE) / NULLIF(CAST(previous_revenue AS DOUBLE), 0) AS growth
FROM compared
ORDER BY category, month
