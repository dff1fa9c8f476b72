-- Views for BI tools: the star joined once, so dashboards start from one wide relation.
CREATE OR REPLACE VIEW v_sales AS
SELECT f.order_id, f.line_number, f.event_time, f.event_date, d.year, d.month, d.year_month, d.day_name,
       d.is_weekend, d.is_holiday, p.product_id, p.name AS product_name, p.category, p.brand,
       c.customer_id, c.region, c.segment, s.store_id, s.city, s.country, f.channel,
       f.source, f.quantity, f.unit_price, f.discount, f.revenue
FROM fact_sales f
JOIN dim_date d ON d.date_key = f.date_key
JOIN dim_product p ON p.product_key = f.product_key
JOIN dim_customer c ON c.customer_key = f.customer_key
JOIN dim_store s ON s.store_key = f.store_key;
CREATE OR REPLACE VIEW v_daily_revenue AS
SELECT event_date, sum(revenue) AS revenue, count(DISTINCT order_id) AS orders, sum(quantity) AS units
FROM fact_sales GROUP BY event_date;
-- Days the data covers in full or not: the last day is cut short when its newest sale is earlier
-- in the day (of the reporting zone) than the newest sale of each of the 28 days before it (a load that stopped at
-- 14:05, not a shop that closes at 20:00), the first day likewise by its first sale. Judged on all
-- sales, whatever a query filters: a day is partial because the data stops, not because one
-- category sold nothing late. The analytics mark such days and leave them out of growth.
CREATE OR REPLACE VIEW v_day_coverage AS
WITH local_times AS (
    SELECT event_date, event_time AT TIME ZONE {{ reporting_timezone }} AS local_time FROM fact_sales
),
per_day AS (
    SELECT event_date AS day,
        min(CAST(date_part('hour', local_time) * 3600 + date_part('minute', local_time) * 60
                 + floor(date_part('second', local_time)) AS BIGINT)) AS first_second,
        max(CAST(date_part('hour', local_time) * 3600 + date_part('minute', local_time) * 60
                 + floor(date_part('second', local_time)) AS BIGINT)) AS last_second
    FROM local_times GROUP BY event_date
),
usual AS (
    SELECT b.first_day, b.last_day,
        (SELECT min(p.last_second) FROM per_day p WHERE p.day < b.last_day AND p.day >= b.last_day - 28)
            AS closes_by,
        (SELECT max(p.first_second) FROM per_day p WHERE p.day > b.first_day AND p.day <= b.first_day + 28)
            AS opens_by
    FROM (SELECT min(day) AS first_day, max(day) AS last_day FROM per_day) b
)
SELECT p.day,
    CASE WHEN p.day = u.last_day AND p.last_second < u.closes_by THEN FALSE
         WHEN p.day = u.first_day AND p.first_second > u.opens_by THEN FALSE
         ELSE TRUE END AS complete
FROM per_day p CROSS JOIN usual u;
-- Months the data covers and how far: each month with its first and last covered day, how far
-- growth may compare it (a last day the data cuts short left out: v_day_coverage) and whether it
-- is whole (from the 1st through the month's last day, neither end cut short). The growth
-- queries compare like days of a month and the one before through this one definition.
CREATE OR REPLACE VIEW v_month_coverage AS
WITH span AS (
    SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM fact_sales
),
months AS (
    SELECT d.year_month AS month, count(*) AS days, min(d.day_of_month) AS from_day,
        max(d.day_of_month) AS through_day,
        max(CASE WHEN d.is_month_end THEN 1 ELSE 0 END) AS reaches_end,
        max(CASE WHEN d.date = s.last_day AND NOT c.complete THEN 1 ELSE 0 END) AS ends_cut,
        max(CASE WHEN d.date = s.first_day AND NOT c.complete THEN 1 ELSE 0 END) AS starts_cut
    FROM dim_date d CROSS JOIN span s
    LEFT JOIN v_day_coverage c ON c.day = d.date
    WHERE d.date BETWEEN s.first_day AND s.last_day
    GROUP BY d.year_month
)
SELECT month, days, from_day, through_day, through_day - ends_cut AS compare_through,
    CASE WHEN from_day = 1 AND starts_cut = 0 AND reaches_end = 1 AND ends_cut = 0 THEN 1 ELSE 0 END AS whole
FROM months;
