-- forecast.features: for each product and target day T, what was knowable at the origin
-- O = T - {{ horizon }} and nothing later: every window ends {{ horizon }} rows before T.
-- lag_k counts back from the origin (lag_1 is O itself); same_weekday_k is T - 7k (for horizons
-- up to 7 those are on or before O). Calendar fields describe T, which is known in advance.
WITH w AS (
    SELECT *,
        lag(units, {{ horizon }}) OVER p AS lag_1,
        lag(units, {{ horizon }} + 6) OVER p AS lag_7,
        lag(units, {{ horizon }} + 13) OVER p AS lag_14,
        lag(units, {{ horizon }} + 27) OVER p AS lag_28,
        lag(units, 7) OVER p AS same_weekday_1,
        lag(units, 14) OVER p AS same_weekday_2,
        lag(units, 28) OVER p AS same_weekday_4,
        avg(units) OVER (p ROWS BETWEEN {{ horizon }} + 6 PRECEDING AND {{ horizon }} PRECEDING) AS mean_7,
        stddev_samp(units) OVER (p ROWS BETWEEN {{ horizon }} + 6 PRECEDING AND {{ horizon }} PRECEDING) AS std_7,
        avg(units) OVER (p ROWS BETWEEN {{ horizon }} + 13 PRECEDING AND {{ horizon }} PRECEDING) AS mean_14,
        stddev_samp(units) OVER (p ROWS BETWEEN {{ horizon }} + 13 PRECEDING AND {{ horizon }} PRECEDING) AS std_14,
        avg(units) OVER (p ROWS BETWEEN {{ horizon }} + 29 PRECEDING AND {{ horizon }} PRECEDING) AS mean_30,
        stddev_samp(units) OVER (p ROWS BETWEEN {{ horizon }} + 29 PRECEDING AND {{ horizon }} PRECEDING) AS std_30,
        -- capped, so a panel cut to the last months (prediction) gives the same value as a full one
        least(count(units) OVER (p ROWS BETWEEN UNBOUNDED PRECEDING AND {{ horizon }} PRECEDING), 90) AS history_days,
        last_value(avg_unit_price IGNORE NULLS) OVER (p ROWS BETWEEN UNBOUNDED PRECEDING AND {{ horizon }} PRECEDING)
            AS price_last,
        avg(avg_unit_price) OVER (p ROWS BETWEEN {{ horizon }} + 29 PRECEDING AND {{ horizon }} PRECEDING) AS price_mean_30,
        lag(discount_rate, {{ horizon }}) OVER p AS discount_last,
        avg(discount_rate) OVER (p ROWS BETWEEN {{ horizon }} + 6 PRECEDING AND {{ horizon }} PRECEDING) AS discount_mean_7
    FROM panel
    WINDOW p AS (PARTITION BY product_id ORDER BY event_date)
)
SELECT product_id, category, event_date AS target_date, units AS target,
    CAST(isodow(event_date) AS INTEGER) AS day_of_week,
    CAST(month(event_date) AS INTEGER) AS month,
    CAST(day(event_date) AS INTEGER) AS day_of_month,
    CAST(date_diff('day', event_date, last_day(event_date)) AS INTEGER) AS days_to_month_end,
    CAST(isodow(event_date) >= 6 AS INTEGER) AS is_weekend,
    CAST(event_date IN (SELECT d FROM holidays) AS INTEGER) AS is_holiday,
    lag_1, lag_7, lag_14, lag_28, same_weekday_1, same_weekday_2, same_weekday_4,
    mean_7, std_7, mean_14, std_14, mean_30, std_30, history_days,
    price_last, price_last / NULLIF(price_mean_30, 0) AS price_ratio_30,
    discount_last, discount_mean_7
FROM w
WHERE history_days >= 1
ORDER BY product_id, target_date
