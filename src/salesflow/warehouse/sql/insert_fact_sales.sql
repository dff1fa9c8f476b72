-- Order lines with surrogate keys: the product version valid at the event time, -1 for a
-- member the dimensions do not know. Lines are immutable, so a line already loaded is kept.
INSERT INTO fact_sales (order_id, line_number, date_key, product_key, customer_key, store_key, channel,
                        quantity, unit_price, discount, revenue, event_time, event_date, silver_batch, source)
SELECT s.order_id, s.line_number, s.date_key,
       COALESCE(p.product_key, -1), COALESCE(c.customer_key, -1), COALESCE(st.store_key, -1),
       s.channel, s.quantity, s.unit_price, s.discount, s.revenue, s.event_time, s.event_date, s.batch_id, s.source
FROM stage_fact_sales s
LEFT JOIN dim_product p ON p.product_id = s.product_id AND s.event_time >= p.valid_from AND s.event_time < p.valid_to
LEFT JOIN dim_customer c ON c.customer_id = s.customer_id
LEFT JOIN dim_store st ON st.store_id = s.store_id
ON CONFLICT (order_id, line_number) DO NOTHING;
