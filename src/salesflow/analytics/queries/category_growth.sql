-- Revenue per category and month, with growth against like days of the same category's previous
-- month (the newest, partial month month to date against days 1-N; no growth after a partial month).
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH span AS (
    SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM fact_sales
),
months AS (
    SELECT d.year_month AS month, min(d.day_of_month) AS from_day, max(d.day_of_month) AS through_day,
        max(CASE WHEN d.is_month_end THEN 1 ELSE 0 END) AS reaches_end
    FROM dim_date d CROSS JOIN span s
    WHERE d.date BETWEEN s.first_day AND s.last_day
    GROUP BY d.year_month
),
daily AS (
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
    SELECT c.category, m.month, m.from_day, m.through_day,
        CASE WHEN m.from_day = 1 AND m.reaches_end = 1 THEN TRUE ELSE FALSE END AS complete,
        lag(m.month) OVER (PARTITION BY c.category ORDER BY m.month) AS previous_month,
        lag(CASE WHEN m.from_day = 1 AND m.reaches_end = 1 THEN 1 ELSE 0 END)
            OVER (PARTITION BY c.category ORDER BY m.month) AS previous_complete
    FROM months m CROSS JOIN (SELECT DISTINCT category FROM daily) c
),
compared AS (
    SELECT g.category, g.month, g.complete,
        COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.category = g.category AND x.month = g.month), 0)
            AS revenue,
        CASE WHEN g.previous_complete = 1 AND g.from_day = 1 AND g.complete THEN 'full month'
             WHEN g.previous_complete = 1 AND g.from_day = 1 THEN 'days 1-' || CAST(g.through_day AS TEXT)
        END AS compared_days,
        CASE WHEN g.previous_complete = 1 AND g.from_day = 1 THEN
            COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.category = g.category
                      AND x.month = g.previous_month
                      AND (g.complete OR x.day_of_month <= g.through_day)), 0)
        END AS previous_revenue
    FROM grid g
)
SELECT category, month, revenue, complete, compared_days, previous_revenue,
    CAST(revenue - previous_revenue AS DOUBLE) / NULLIF(CAST(previous_revenue AS DOUBLE), 0) AS growth
FROM compared
ORDER BY category, month
