-- silver.deduped_events: the verdict for each valid event (narrow: keys, duplicate_key, late). The first occurrence (lowest
-- record_seq; one Bronze batch is processed at a time) wins; an event_id or order_id already in
-- Silver is a duplicate: in the dedupe horizon's state (seen_keys) or before it (old_keys, from
-- the key index, silver/key_index.py). `late` marks events that arrived after the watermark passed them: older
-- than the newest event seen before them (in earlier batches or earlier in this one) less the
-- allowed lateness. Records of partner files and API pulls are history, never late: their order is
-- the file's, not arrival time (a sorted-by-customer file flagged 82% of its orders late).
-- The running max is taken over this narrow projection (window functions over
-- the wide rows cost several times more); output models join the verdicts back.
-- Every Silver model sees one Bronze batch (SilverProcessor checks it), so record_seq alone names
-- a record and the models join on it: on one integer key with a dense range DuckDB looks rows up
-- by position, where it hashed (batch_id, record_seq) (a third of an output model's time).
-- MATERIALIZED: valid, prior and verdicts are each read more than once; an engine that plans a CTE
-- again at each reference (Spark) computes them once first (salesflow.models.ctes).
WITH valid AS MATERIALIZED (
    SELECT record_seq, event_type, event_id, order_id, event_time,
        source LIKE 'file:%' OR source LIKE 'api:%' AS historical
    FROM classified_events WHERE problem IS NULL
),
-- Only keys that occur more than once in the batch: the join back then builds a hash table of a
-- few thousand keys, not of every event (a third of this model's time). MATERIALIZED: computed
-- first, Spark sees how few they are and broadcasts them (planned from estimates, it shuffled
-- every valid event twice to join them, all events without an order id into one task).
first_event AS MATERIALIZED (
    SELECT event_id, min(record_seq) AS first_seq FROM valid GROUP BY event_id HAVING count(*) > 1
),
first_order AS MATERIALIZED (
    SELECT order_id, min(record_seq) AS first_seq FROM valid
    WHERE event_type = 'order_created' GROUP BY order_id HAVING count(*) > 1
),
-- Keys accepted in earlier batches (within the horizon, then before it) with their content.
prior AS MATERIALIZED (
    SELECT DISTINCT kind, key, event_time, total_amount, currency, batch_id FROM (
        SELECT kind, key, event_time, total_amount, currency, batch_id FROM seen_keys
        UNION ALL
        SELECT kind, key, event_time, total_amount, currency, batch_id FROM old_keys
    ) k
),
verdicts AS MATERIALIZED (
SELECT v.record_seq, v.event_id, v.order_id,
    CASE  -- a key seen once has no first_seq: the comparison is NULL, and so not a duplicate
        WHEN v.record_seq <> fe.first_seq OR se.key IS NOT NULL THEN 'event_id'
        WHEN v.event_type = 'order_created' AND (v.record_seq <> fo.first_seq OR so.key IS NOT NULL) THEN 'order_id'
    END AS duplicate_key,
    CASE  -- the occurrence earlier in this batch a duplicate is compared with, when no earlier batch has the key
        WHEN se.key IS NULL AND v.record_seq <> fe.first_seq THEN fe.first_seq
        WHEN se.key IS NULL AND so.key IS NULL AND v.event_type = 'order_created' AND v.record_seq <> fo.first_seq
            THEN fo.first_seq
    END AS first_seq,
    COALESCE(NOT v.historical AND v.event_time < greatest({{ watermark }},
        max(v.event_time) OVER (ORDER BY v.record_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        - to_seconds({{ allowed_lateness_seconds }})), FALSE) AS late
FROM valid v
LEFT JOIN first_event fe USING (event_id)
LEFT JOIN first_order fo ON fo.order_id = v.order_id AND v.event_type = 'order_created'
LEFT JOIN (SELECT DISTINCT key FROM prior WHERE kind = 'event_id') se ON se.key = v.event_id
LEFT JOIN (SELECT DISTINCT key FROM prior WHERE kind = 'order_id') so
       ON so.key = v.order_id AND v.event_type = 'order_created'
),
-- A re-used key whose content differs from the first occurrence's is not a retry but a conflict:
-- quarantined as conflicting_duplicate, naming where the first came from, never silently dropped.
-- An event id is compared on its time and money; an order id (re-sent under a new event id) on its
-- money. Only duplicates are looked at: a few rows of parsed_events, found from the duplicates
-- and their first occurrences. MATERIALIZED: computed first, Spark sees how few they are and
-- broadcasts them to the scans of parsed_events (planned from estimates, it shuffled every
-- parsed event twice to join them).
repeated AS MATERIALIZED (
    SELECT record_seq, duplicate_key, event_id, order_id, first_seq FROM verdicts WHERE duplicate_key IS NOT NULL
),
firsts AS MATERIALIZED (
    SELECT record_seq, event_time, total_amount, currency, source, source_position FROM parsed_events
    WHERE record_seq IN (SELECT first_seq FROM repeated WHERE first_seq IS NOT NULL)
),
conflicts AS MATERIALIZED (
    SELECT d.record_seq,
        CASE
            WHEN p.key IS NOT NULL AND ((d.duplicate_key = 'event_id' AND p.event_time IS DISTINCT FROM e.event_time)
                 OR p.total_amount IS DISTINCT FROM e.total_amount OR p.currency IS DISTINCT FROM e.currency)
                THEN d.duplicate_key || ' ' || p.key || ' was accepted in batch ' || CAST(p.batch_id AS VARCHAR)
                     || ' with other content'
            WHEN p.key IS NULL AND ((d.duplicate_key = 'event_id' AND f.event_time IS DISTINCT FROM e.event_time)
                 OR f.total_amount IS DISTINCT FROM e.total_amount OR f.currency IS DISTINCT FROM e.currency)
                THEN d.duplicate_key || ' first came from ' || f.source || ' ' || f.source_position
                     || ' with other content'
        END AS conflict
    FROM repeated d
    JOIN parsed_events e ON e.record_seq = d.record_seq
    LEFT JOIN prior p ON p.kind = d.duplicate_key
        AND p.key = CASE WHEN d.duplicate_key = 'event_id' THEN d.event_id ELSE d.order_id END
    LEFT JOIN firsts f ON f.record_seq = d.first_seq
)
SELECT v.record_seq, v.duplicate_key, v.late, c.conflict
FROM verdicts v
LEFT JOIN conflicts c USING (record_seq)
