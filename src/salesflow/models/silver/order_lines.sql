-- silver.order_lines: one row per line of an accepted order (the fact grain).
SELECT o.order_id, CAST(l.line_number AS INTEGER) AS line_number, o.event_id, l.product_id,
    l.quantity, l.unit_price, l.discount, l.revenue,
    o.customer_id, o.store_id, o.channel, o.event_time, o.event_date, o.source, o.batch_id
FROM parsed_events o
JOIN deduped_events d USING (record_seq)
JOIN parsed_lines l USING (record_seq)
WHERE o.event_type = 'order_created' AND d.duplicate_key IS NULL
