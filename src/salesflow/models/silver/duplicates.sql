-- silver.duplicates: every valid record dropped as a repeat (same content as the first), and which key matched.
-- MATERIALIZED: the repeats are computed first, so Spark sees how few they are and broadcasts them
-- (planned from estimates, it shuffled every parsed event to join them).
WITH repeats AS MATERIALIZED (
    SELECT record_seq, duplicate_key FROM deduped_events WHERE duplicate_key IS NOT NULL AND conflict IS NULL
)
SELECT batch_id, record_seq, source, source_position, event_type, event_id, order_id,
    duplicate_key, event_date, ingested_at
FROM parsed_events
JOIN repeats USING (record_seq)
