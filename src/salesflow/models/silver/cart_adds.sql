-- silver.cart_adds: one row per accepted add-to-cart.
SELECT event_id, session_id, customer_id, product_id, store_id, channel, quantity,
    event_time, event_date, late, source, source_position, batch_id, ingested_at
FROM parsed_events
JOIN deduped_events USING (record_seq)
WHERE event_type = 'add_to_cart' AND duplicate_key IS NULL
