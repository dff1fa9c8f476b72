-- silver.deduped_events: valid events with their duplicate verdict. The first occurrence (lowest
-- batch, then position) wins; an event_id or order_id already in Silver is a duplicate.
-- `late` marks events that arrived after the watermark passed them: older than the newest event
-- seen before them (in earlier batches or earlier in this one) less the allowed lateness.
WITH valid AS (
    SELECT * FROM classified_events WHERE problem IS NULL
),
ranked AS (
    SELECT *,
        row_number() OVER (PARTITION BY event_id ORDER BY batch_id, record_seq) AS event_rank,
        row_number() OVER (PARTITION BY event_type, order_id ORDER BY batch_id, record_seq) AS order_rank,
        max(event_time) OVER (ORDER BY batch_id, record_seq
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newest_before
    FROM valid
)
SELECT r.* EXCLUDE (newest_before),
    CASE
        WHEN r.event_rank > 1 OR se.key IS NOT NULL THEN 'event_id'
        WHEN r.event_type = 'order_created' AND (r.order_rank > 1 OR so.key IS NOT NULL) THEN 'order_id'
    END AS duplicate_key,
    COALESCE(r.event_time < greatest({{ watermark }},
        r.newest_before - to_seconds({{ allowed_lateness_seconds }})), FALSE) AS late
FROM ranked r
LEFT JOIN (SELECT DISTINCT key FROM seen_keys WHERE kind = 'event_id') se ON se.key = r.event_id
LEFT JOIN (SELECT DISTINCT key FROM seen_keys WHERE kind = 'order_id') so
       ON so.key = r.order_id AND r.event_type = 'order_created'
