-- Retention by first-purchase month: share of each cohort buying again N months later.
WITH purchases AS (
    SELECT DISTINCT f.customer_key, d.year * 12 + d.month AS month_index, d.year_month
    FROM fact_sales f JOIN dim_date d ON d.date_key = f.date_key
    WHERE f.customer_key <> -1
),
firsts AS (
    SELECT customer_key, min(month_index) AS cohort_index, min(year_month) AS cohort
    FROM purchases GROUP BY customer_key
),
activity AS (
    SELECT f.cohort, p.month_index - f.cohort_index AS months_since, count(*) AS customers
    FROM purchases p JOIN firsts f USING (customer_key)
    GROUP BY f.cohort, p.month_index - f.cohort_index
)
SELECT cohort, months_since, customers,
    CAST(customers AS DOUBLE) / max(CASE WHEN months_since = 0 THEN customers END)
        OVER (PARTITION BY cohort) AS retention
FROM activity
ORDER BY cohort, months_since
