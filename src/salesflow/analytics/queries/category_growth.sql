-- Revenue per category and month, with growth against like days of the same category's previous
-- month: as monthly_revenue_growth (the newest, partial month to date against days 1-N of the month
-- before, a last day the data cuts short left out; no growth after a month that is not complete).
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH span AS (
    SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM fact_sales
),
months AS (
    SELECT d.year_month AS month, min(d.day_of_month) AS from_day, max(d.day_of_month) AS through_day,
        max(CASE WHEN d.is_month_end THEN 1 ELSE 0 END) AS reaches_end,
        max(CASE WHEN d.date = s.last_day AND NOT c.complete THEN 1 ELSE 0 END) AS ends_cut,
        max(CASE WHEN d.date = s.first_day AND NOT c.complete THEN 1 ELSE 0 END) AS starts_cut
    FROM dim_date d CROSS JOIN span s
    LEFT JOIN v_day_coverage c ON c.day = d.date
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
judged AS (
    SELECT m.*, m.through_day - m.ends_cut AS compare_through,
        CASE WHEN m.from_day = 1 AND m.starts_cut = 0 AND m.reaches_end = 1 AND m.ends_cut = 0
             THEN 1 ELSE 0 END AS whole
    FROM months m
),
grid AS (
    SELECT c.category, j.month, j.from_day, j.compare_through, j.whole = 1 AS complete,
        lag(j.month) OVER (PARTITION BY c.category ORDER BY j.month) AS previous_month,
        lag(j.whole) OVER (PARTITION BY c.category ORDER BY j.month) AS previous_complete
    FROM judged j CROSS JOIN (SELECT DISTINCT category FROM daily) c
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
