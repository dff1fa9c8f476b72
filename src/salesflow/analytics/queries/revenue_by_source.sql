-- Revenue, orders and units per ingestion source (landing, kafka, collector, partner files, APIs)
-- and day, so a partner's numbers can be checked on their own.
-- param start_date DATE = 1900-01-01
-- param end_date DATE = 9999-12-31
SELECT f.event_date, COALESCE(f.source, 'unknown') AS source, sum(f.revenue) AS revenue,
    count(DISTINCT f.order_id) AS orders, sum(f.quantity) AS units
FROM fact_sales f
WHERE f.event_date BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
GROUP BY f.event_date, COALESCE(f.source, 'unknown')
ORDER BY f.event_date, source
