-- silver.deduped_events: the verdict for each valid event (narrow: keys, duplicate_key, late). The first occurrence (lowest
-- record_seq; one Bronze batch is processed at a time) wins; an event_id or order_id already in
-- Silver is a duplicate. `late` marks events that arrived after the watermark passed them: older
-- than the newest event seen before them (in earlier batches or earlier in this one) less the
-- allowed lateness. Ranks and the running max are computed on narrow projections and joined back:
-- window functions over the wide rows cost several times more. Output models join this back.
WITH valid AS (
    SELECT batch_id, record_seq, event_type, event_id, order_id, event_time
    FROM classified_events WHERE problem IS NULL
),
first_event AS (
    SELECT event_id, min(record_seq) AS first_seq FROM valid GROUP BY event_id
),
first_order AS (
    SELECT order_id, min(record_seq) AS first_seq FROM valid
    WHERE event_type = 'order_created' GROUP BY order_id
),
running AS (
    SELECT record_seq,
        max(event_time) OVER (ORDER BY record_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newest_before
    FROM valid
)
SELECT v.batch_id, v.record_seq,
    CASE
        WHEN v.record_seq <> fe.first_seq OR se.key IS NOT NULL THEN 'event_id'
        WHEN v.event_type = 'order_created' AND (v.record_seq <> fo.first_seq OR so.key IS NOT NULL) THEN 'order_id'
    END AS duplicate_key,
    COALESCE(v.event_time < greatest({{ watermark }},
        r.newest_before - to_seconds({{ allowed_lateness_seconds }})), FALSE) AS late
FROM valid v
JOIN first_event fe USING (event_id)
JOIN running r USING (record_seq)
LEFT JOIN first_order fo ON fo.order_id = v.order_id AND v.event_type = 'order_created'
LEFT JOIN (SELECT DISTINCT key FROM seen_keys WHERE kind = 'event_id') se ON se.key = v.event_id
LEFT JOIN (SELECT DISTINCT key FROM seen_keys WHERE kind = 'order_id') so
       ON so.key = v.order_id AND v.event_type = 'order_created'
