-- silver.quarantine: every rejected record, kept whole, with a machine-readable reason and the
-- position it came from, so it can be fixed and replayed. A re-used key with other content
-- (conflicting_duplicate) is rejected here too, naming where the first occurrence came from.
SELECT c.batch_id, c.record_seq, c.source, c.source_position,
    split_part(c.problem, ':', 1) AS reason,
    NULLIF(split_part(c.problem, ':', 2), '') AS reason_detail,
    c.event_type, c.event_id, c.event_date, b.payload, c.ingested_at
FROM classified_events c
JOIN bronze_batch b USING (record_seq)
WHERE c.problem IS NOT NULL
UNION ALL
SELECT e.batch_id, e.record_seq, e.source, e.source_position,
    'conflicting_duplicate' AS reason, d.conflict AS reason_detail,
    e.event_type, e.event_id, e.event_date, b.payload, e.ingested_at
FROM parsed_events e
JOIN deduped_events d USING (record_seq)
JOIN bronze_batch b USING (record_seq)
WHERE d.conflict IS NOT NULL
