-- Forecast against what sold, per day and category: the newest forecast for each day and horizon
-- (latest forecast date, then latest model version), actual units once the day has been loaded.
-- param horizon_days INTEGER = 1
WITH latest AS (
    SELECT target_date, max(forecast_date || ' ' || model_version) AS pick
    FROM demand_predictions
    WHERE horizon_days = $horizon_days
    GROUP BY target_date
),
predicted AS (
    SELECT d.target_date, d.category, min(d.model_version) AS model_version,
        sum(d.predicted_units) AS predicted_units,
        sum(d.lower_units) AS lower_units, sum(d.upper_units) AS upper_units
    FROM demand_predictions d
    JOIN latest l ON l.target_date = d.target_date AND l.pick = d.forecast_date || ' ' || d.model_version
    WHERE d.horizon_days = $horizon_days
    GROUP BY d.target_date, d.category
),
actual AS (
    SELECT f.event_date AS target_date, p.category, sum(f.quantity) AS actual_units
    FROM fact_sales f JOIN dim_product p ON p.product_key = f.product_key
    GROUP BY f.event_date, p.category
),
loaded AS (SELECT max(event_date) AS last_day FROM fact_sales)
SELECT pr.target_date, pr.category, pr.model_version, pr.predicted_units, pr.lower_units, pr.upper_units,
    CASE WHEN pr.target_date <= lo.last_day THEN COALESCE(a.actual_units, 0) END AS actual_units,
    CASE WHEN pr.target_date <= lo.last_day
         THEN abs(pr.predicted_units - COALESCE(a.actual_units, 0)) END AS abs_error
FROM predicted pr
CROSS JOIN loaded lo
LEFT JOIN actual a ON a.target_date = pr.target_date AND a.category = pr.category
ORDER BY pr.target_date, pr.category
