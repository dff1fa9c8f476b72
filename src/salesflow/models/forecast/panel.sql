-- forecast.panel: one row per product and day, from the product's first sale to the last day in
-- the data, {{ last_day }} (and {{ future_days }} days past it, units unknown), zeros where nothing
-- sold; the last day is the whole shop's, whatever products were chosen. A product delisted (no
-- sale for {{ delisted_after }} days) stops there: no zeros padded after it, and no forecast. Dense
-- rows make "N rows back" mean "N days back" in the feature windows. Rows start no earlier than
-- {{ panel_from }}: prediction needs only the last months (every window is shorter), training all.
WITH bounds AS (
    SELECT product_id, arg_max(category, event_date) AS category, min(event_date) AS first_day,
        max(event_date) AS last_sale
    FROM daily_sales GROUP BY product_id
),
last_day AS (SELECT CAST({{ last_day }} AS DATE) AS d),
days AS (
    SELECT b.product_id, b.category, CAST(g.d AS DATE) AS event_date
    FROM bounds b, last_day l,
        generate_series(CAST(greatest(b.first_day, {{ panel_from }}) AS TIMESTAMP),
                        CAST(least(l.d + {{ future_days }}, b.last_sale + {{ delisted_after }}) AS TIMESTAMP),
                        INTERVAL 1 DAY) AS g(d)
)
SELECT d.product_id, d.category, d.event_date,
    CASE WHEN d.event_date <= (SELECT d FROM last_day) THEN CAST(COALESCE(s.units, 0) AS DOUBLE) END AS units,
    s.avg_unit_price, COALESCE(s.discount_rate, 0.0) AS discount_rate
FROM days d
LEFT JOIN daily_sales s ON s.product_id = d.product_id AND s.event_date = d.event_date
ORDER BY d.product_id, d.event_date
