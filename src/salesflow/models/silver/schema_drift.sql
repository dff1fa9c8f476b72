-- silver.schema_drift: fields outside the contract seen on accepted events, with counts.
SELECT event_type, field, count(*) AS events
FROM (SELECT event_type, unnest(extra_fields) AS field
      FROM parsed_events JOIN deduped_events USING (record_seq))
GROUP BY event_type, field
ORDER BY event_type, field
