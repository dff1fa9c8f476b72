-- Revenue and orders per calendar month with month-over-month growth.
WITH monthly AS (
    SELECT d.year_month AS month, sum(f.revenue) AS revenue, count(DISTINCT f.order_id) AS orders
    FROM fact_sales f JOIN dim_date d ON d.date_key = f.date_key
    GROUP BY d.year_month
)
SELECT month, revenue, orders,
    CAST(revenue - lag(revenue, 1) OVER (ORDER BY month) AS DOUBLE)
        / NULLIF(CAST(lag(revenue, 1) OVER (ORDER BY month) AS DOUBLE), 0) AS mom_growth
FROM monthly
ORDER BY month
