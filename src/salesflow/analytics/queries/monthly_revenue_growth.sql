-- Revenue and orders per calendar month, with growth against like days of the previous month.
-- A month the data covers in part is not complete: the newest month is compared month to date
-- with the same days of the previous month (days 1-N, leaving out a last day the data cuts short:
-- v_month_coverage); a month whose previous month is not complete, or that starts after the 1st,
-- has no growth (no like period to compare with). compared_revenue is this month over those days.
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH daily AS (
    SELECT d.year_month AS month, d.day_of_month, sum(f.revenue) AS revenue, count(DISTINCT f.order_id) AS orders
    FROM fact_sales f JOIN dim_date d ON d.date_key = f.date_key
    WHERE (CAST($category AS TEXT) IS NULL OR f.product_key IN
           (SELECT product_key FROM dim_product WHERE category = CAST($category AS TEXT)))
      AND (CAST($store_id AS TEXT) IS NULL OR f.store_key IN
           (SELECT store_key FROM dim_store WHERE store_id = CAST($store_id AS TEXT)))
    GROUP BY d.year_month, d.day_of_month
),
monthly AS (
    SELECT j.month, j.days, j.from_day, j.compare_through, j.whole = 1 AS complete,
        COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.month = j.month), 0) AS revenue,
        COALESCE((SELECT sum(x.orders) FROM daily x WHERE x.month = j.month), 0) AS orders,
        lag(j.month) OVER (ORDER BY j.month) AS previous_month,
        lag(j.whole) OVER (ORDER BY j.month) AS previous_complete
    FROM v_month_coverage j
),
compared AS (
    SELECT month, revenue, orders, days, complete,
        CASE WHEN previous_complete = 1 AND from_day = 1 AND compare_through >= 1 THEN
            CASE WHEN complete THEN 'full month' ELSE 'days 1-' || CAST(compare_through AS TEXT) END
        END AS compared_days,
        CASE WHEN previous_complete = 1 AND from_day = 1 AND compare_through >= 1 THEN
            COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.month = monthly.month
                      AND (monthly.complete OR x.day_of_month <= monthly.compare_through)), 0)
        END AS compared_revenue,
        CASE WHEN previous_complete = 1 AND from_day = 1 AND compare_through >= 1 THEN
            COALESCE((SELECT sum(p.revenue) FROM daily p WHERE p.month = monthly.previous_month
                      AND (monthly.complete OR p.day_of_month <= monthly.compare_through)), 0)
        END AS previous_revenue
    FROM monthly
)
SELECT month, revenue, orders, days, complete, compared_days, compared_revenue, previous_revenue,
    CAST(compared_revenue - previous_revenue AS DOUBLE) / NULLIF(CAST(previous_revenue AS DOUBLE), 0) AS mom_growth
FROM compared
ORDER BY month
