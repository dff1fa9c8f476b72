-- RFM: recency, frequency and monetary quintiles per customer, summarised per segment.
-- param as_of DATE = 9999-12-31
WITH as_of AS (
    SELECT LEAST(CAST($as_of AS DATE), max(event_date)) AS day FROM fact_sales
),
customers AS (
    SELECT f.customer_key, max(f.event_date) AS last_purchase, count(DISTINCT f.order_id) AS frequency,
        sum(f.revenue) AS monetary
    FROM fact_sales f CROSS JOIN as_of a
    WHERE f.customer_key <> -1 AND f.event_date <= a.day
    GROUP BY f.customer_key
),
scored AS (
    SELECT c.customer_key, a.day - c.last_purchase AS recency_days, c.frequency, c.monetary,
        ntile(5) OVER (ORDER BY a.day - c.last_purchase DESC, c.customer_key) AS r_score,
        ntile(5) OVER (ORDER BY c.frequency, c.customer_key) AS f_score,
        ntile(5) OVER (ORDER BY c.monetary, c.customer_key) AS m_score
    FROM customers c CROSS JOIN as_of a
),
segmented AS (
    SELECT *,
        CASE
            WHEN r_score >= 4 AND f_score >= 4 AND m_score >= 4 THEN 'champions'
            WHEN r_score >= 3 AND f_score >= 3 THEN 'loyal'
            WHEN r_score >= 4 THEN 'recent'
            WHEN r_score <= 2 AND f_score >= 3 THEN 'at_risk'
            WHEN r_score <= 2 THEN 'hibernating'
            ELSE 'needs_attention'
        END AS segment
    FROM scored
)
SELECT segment, count(*) AS customers,
    CAST(avg(recency_days) AS DOUBLE) AS avg_recency_days,
    CAST(avg(frequency) AS DOUBLE) AS avg_frequency,
    CAST(avg(monetary) AS DOUBLE) AS avg_monetary,
    sum(monetary) AS revenue
FROM segmented
GROUP BY segment
ORDER BY revenue DESC, segment
