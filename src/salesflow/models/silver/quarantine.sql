-- silver.quarantine: every rejected record, kept whole, with a machine-readable reason and the
-- position it came from, so it can be fixed and replayed.
SELECT batch_id, record_seq, source, source_position,
    split_part(problem, ':', 1) AS reason,
    NULLIF(split_part(problem, ':', 2), '') AS reason_detail,
    event_type, event_id, event_date, payload, ingested_at
FROM classified_events
WHERE problem IS NOT NULL
