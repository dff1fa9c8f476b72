-- silver.quarantine: every rejected record, kept whole, with a machine-readable reason and the
-- position it came from, so it can be fixed and replayed.
SELECT c.batch_id, c.record_seq, c.source, c.source_position,
    split_part(c.problem, ':', 1) AS reason,
    NULLIF(split_part(c.problem, ':', 2), '') AS reason_detail,
    c.event_type, c.event_id, c.event_date, b.payload, c.ingested_at
FROM classified_events c
JOIN bronze_batch b USING (record_seq)
WHERE c.problem IS NOT NULL
