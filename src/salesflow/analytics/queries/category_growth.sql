-- Revenue per category and month with growth over the previous month of the same category.
WITH monthly AS (
    SELECT p.category, d.year_month AS month, sum(f.revenue) AS revenue
    FROM fact_sales f
    JOIN dim_product p ON p.product_key = f.product_key
    JOIN dim_date d ON d.date_key = f.date_key
    GROUP BY p.category, d.year_month
)
SELECT category, month, revenue,
    lag(revenue, 1) OVER (PARTITION BY category ORDER BY month) AS previous_revenue,
    CAST(revenue - lag(revenue, 1) OVER (PARTITION BY category ORDER BY month) AS DOUBLE)
        / NULLIF(CAST(lag(revenue, 1) OVER (PARTITION BY category ORDER BY month) AS DOUBLE), 0) AS growth
FROM monthly
ORDER BY category, month
