-- Revenue and orders per calendar month, with growth against like days of the previous month.
-- A month the data covers in part is not complete (complete = false): the newest month is compared month to date
-- with the same days of the previous month (days 1-N); a month whose previous month is partial, or
-- that starts after the 1st, has no growth (no like period to compare with).
-- param category TEXT = NULL
-- param store_id TEXT = NULL
WITH span AS (
    SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM fact_sales
),
months AS (
    SELECT d.year_month AS month, count(*) AS days, min(d.day_of_month) AS from_day,
        max(d.day_of_month) AS through_day,
        max(CASE WHEN d.is_month_end THEN 1 ELSE 0 END) AS reaches_end
    FROM dim_date d CROSS JOIN span s
    WHERE d.date BETWEEN s.first_day AND s.last_day
    GROUP BY d.year_month
),
daily AS (
    SELECT d.year_month AS month, d.day_of_month, sum(f.revenue) AS revenue, count(DISTINCT f.order_id) AS orders
    FROM fact_sales f JOIN dim_date d ON d.date_key = f.date_key
    WHERE (CAST($category AS TEXT) IS NULL OR f.product_key IN
           (SELECT product_key FROM dim_product WHERE category = CAST($category AS TEXT)))
      AND (CAST($store_id AS TEXT) IS NULL OR f.store_key IN
           (SELECT store_key FROM dim_store WHERE store_id = CAST($store_id AS TEXT)))
    GROUP BY d.year_month, d.day_of_month
),
monthly AS (
    SELECT m.month, m.days, m.from_day, m.through_day,
        CASE WHEN m.from_day = 1 AND m.reaches_end = 1 THEN TRUE ELSE FALSE END AS complete,
        COALESCE((SELECT sum(x.revenue) FROM daily x WHERE x.month = m.month), 0) AS revenue,
        COALESCE((SELECT sum(x.orders) FROM daily x WHERE x.month = m.month), 0) AS orders,
        lag(m.month) OVER (ORDER BY m.month) AS previous_month,
        lag(CASE WHEN m.from_day = 1 AND m.reaches_end = 1 THEN 1 ELSE 0 END) OVER (ORDER BY m.month)
            AS previous_complete
    FROM months m
),
compared AS (
    SELECT month, revenue, orders, days, complete,
        CASE WHEN previous_complete = 1 AND from_day = 1 AND complete THEN 'full month'
             WHEN previous_complete = 1 AND from_day = 1 THEN 'days 1-' || CAST(through_day AS TEXT)
        END AS compared_days,
        CASE WHEN previous_complete = 1 AND from_day = 1 THEN
            COALESCE((SELECT sum(p.revenue) FROM daily p WHERE p.month = monthly.previous_month
                      AND (monthly.complete OR p.day_of_month <= monthly.through_day)), 0)
        END AS previous_revenue
    FROM monthly
)
SELECT month, revenue, orders, days, complete, compared_days, previous_revenue,
    CAST(revenue - previous_revenue AS DOUBLE) / NULLIF(CAST(previous_revenue AS DOUBLE), 0) AS mom_growth
FROM compared
ORDER BY month
