-- warehouse.stage_fact_sales: Silver order lines with the natural keys the warehouse resolves.
SELECT order_id, line_number,
    CAST(year(event_date) * 10000 + month(event_date) * 100 + day(event_date) AS INTEGER) AS date_key,
    product_id, customer_id, store_id, channel, quantity, unit_price, discount, revenue,
    event_time, event_date, source, batch_id
FROM silver_order_lines
