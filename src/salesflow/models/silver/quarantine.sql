-- silver.quarantine: every rejected record, kept whole, with a machine-readable reason and the
-- position it came from, so it can be fixed and replayed. A re-used key with other content
-- (conflicting_duplicate) is rejected here too, naming where the first occurrence came from.
-- The rejected records are gathered first and meet Bronze's payloads in one join. MATERIALIZED:
-- computed first, Spark sees how few they are and broadcasts them to the Bronze scan (planned
-- from estimates, it shuffled every payload of the batch to join a few thousand records).
WITH conflicts AS MATERIALIZED (
    SELECT record_seq, conflict FROM deduped_events WHERE conflict IS NOT NULL
),
rejected AS MATERIALIZED (
    SELECT batch_id, record_seq, source, source_position,
        split_part(problem, ':', 1) AS reason,
        NULLIF(split_part(problem, ':', 2), '') AS reason_detail,
        event_type, event_id, event_date, ingested_at
    FROM classified_events
    WHERE problem IS NOT NULL
    UNION ALL
    SELECT e.batch_id, e.record_seq, e.source, e.source_position,
        'conflicting_duplicate' AS reason, c.conflict AS reason_detail,
        e.event_type, e.event_id, e.event_date, e.ingested_at
    FROM parsed_events e
    JOIN conflicts c USING (record_seq)
)
SELECT r.batch_id, r.record_seq, r.source, r.source_position, r.reason, r.reason_detail,
    r.event_type, r.event_id, r.event_date, b.payload, r.ingested_at
FROM rejected r
JOIN bronze_batch b USING (record_seq)
