-- silver.orders: one row per accepted order (order header grain).
SELECT event_id, order_id, customer_id, store_id, channel, currency, payment_method,
    total_amount, CAST(line_count AS INTEGER) AS line_count, CAST(units AS BIGINT) AS units,
    CAST(quarantined_lines AS INTEGER) AS quarantined_lines,
    event_time, event_date, late, source, source_position, batch_id, ingested_at
FROM classified_events
JOIN deduped_events USING (record_seq)
WHERE event_type = 'order_created' AND duplicate_key IS NULL
