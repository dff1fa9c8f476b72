-- Forecast against what sold, per day and category, once demand_predictions holds forecasts.
-- param horizon_days INTEGER = 1
WITH predicted AS (
    SELECT target_date, category, sum(predicted_units) AS predicted_units,
        sum(lower_units) AS lower_units, sum(upper_units) AS upper_units
    FROM demand_predictions
    WHERE horizon_days = $horizon_days
    GROUP BY target_date, category
),
actual AS (
    SELECT f.event_date AS target_date, p.category, sum(f.quantity) AS actual_units
    FROM fact_sales f JOIN dim_product p ON p.product_key = f.product_key
    GROUP BY f.event_date, p.category
)
SELECT pr.target_date, pr.category, pr.predicted_units, pr.lower_units, pr.upper_units,
    COALESCE(a.actual_units, 0) AS actual_units,
    abs(pr.predicted_units - COALESCE(a.actual_units, 0)) AS abs_error
FROM predicted pr
LEFT JOIN actual a ON a.target_date = pr.target_date AND a.category = pr.category
ORDER BY pr.target_date, pr.category
