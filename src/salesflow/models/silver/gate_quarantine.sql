-- silver.gate_quarantine: accepted events a quality gate sends to quarantine, reason = rule name.
SELECT c.batch_id, c.record_seq, c.source, c.source_position,
    g.rule AS reason, 'quality_gate' AS reason_detail,
    c.event_type, c.event_id, c.event_date, b.payload, c.ingested_at
FROM classified_events c
JOIN deduped_events d USING (record_seq)
JOIN gate_quarantine g ON g.event_id = c.event_id
JOIN bronze_batch b USING (record_seq)
WHERE c.problem IS NULL AND d.duplicate_key IS NULL
