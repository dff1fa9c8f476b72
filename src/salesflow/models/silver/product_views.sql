-- silver.product_views: one row per accepted product view.
SELECT event_id, session_id, customer_id, product_id, store_id, channel,
    event_time, event_date, late, source, source_position, batch_id, ingested_at
FROM parsed_events
JOIN deduped_events USING (record_seq)
WHERE event_type = 'product_viewed' AND duplicate_key IS NULL
