-- silver.duplicates: every valid record dropped as a repeat (same content as the first), and which key matched.
SELECT batch_id, record_seq, source, source_position, event_type, event_id, order_id,
    duplicate_key, event_date, ingested_at
FROM parsed_events
JOIN deduped_events USING (record_seq)
WHERE duplicate_key IS NOT NULL AND conflict IS NULL
