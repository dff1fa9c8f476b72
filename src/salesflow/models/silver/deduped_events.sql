-- silver.deduped_events: the verdict for each valid event (narrow: keys, duplicate_key, late). The first occurrence (lowest
-- record_seq; one Bronze batch is processed at a time) wins; an event_id or order_id already in
-- Silver is a duplicate. `late` marks events that arrived after the watermark passed them: older
-- than the newest event seen before them (in earlier batches or earlier in this one) less the
-- allowed lateness. The running max is taken over this narrow projection (window functions over
-- the wide rows cost several times more); output models join the verdicts back.
-- Every Silver model sees one Bronze batch (SilverProcessor checks it), so record_seq alone names
-- a record and the models join on it: on one integer key with a dense range DuckDB looks rows up
-- by position, where it hashed (batch_id, record_seq) (a third of an output model's time).
WITH valid AS (
    SELECT record_seq, event_type, event_id, order_id, event_time
    FROM classified_events WHERE problem IS NULL
),
-- Only keys that occur more than once in the batch: the join back then builds a hash table of a
-- few thousand keys, not of every event (a third of this model's time).
first_event AS (
    SELECT event_id, min(record_seq) AS first_seq FROM valid GROUP BY event_id HAVING count(*) > 1
),
first_order AS (
    SELECT order_id, min(record_seq) AS first_seq FROM valid
    WHERE event_type = 'order_created' GROUP BY order_id HAVING count(*) > 1
)
SELECT v.record_seq,
    CASE  -- a key seen once has no first_seq: the comparison is NULL, and so not a duplicate
        WHEN v.record_seq <> fe.first_seq OR se.key IS NOT NULL THEN 'event_id'
        WHEN v.event_type = 'order_created' AND (v.record_seq <> fo.first_seq OR so.key IS NOT NULL) THEN 'order_id'
    END AS duplicate_key,
    COALESCE(v.event_time < greatest({{ watermark }},
        max(v.event_time) OVER (ORDER BY v.record_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        - to_seconds({{ allowed_lateness_seconds }})), FALSE) AS late
FROM valid v
LEFT JOIN first_event fe USING (event_id)
LEFT JOIN first_order fo ON fo.order_id = v.order_id AND v.event_type = 'order_created'
LEFT JOIN (SELECT DISTINCT key FROM seen_keys WHERE kind = 'event_id') se ON se.key = v.event_id
LEFT JOIN (SELECT DISTINCT key FROM seen_keys WHERE kind = 'order_id') so
       ON so.key = v.order_id AND v.event_type = 'order_created'
