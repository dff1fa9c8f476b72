-- silver.unseen_keys: this batch's keys that the dedupe horizon's state does not hold. Only they can
-- have been accepted before the horizon, so only they are looked up in the key index (old_keys).
WITH batch_keys AS (
    SELECT event_id, order_id, event_type FROM classified_events WHERE problem IS NULL
)
SELECT DISTINCT 'event_id' AS kind, event_id AS key FROM batch_keys
WHERE event_id NOT IN (SELECT key FROM seen_keys WHERE kind = 'event_id')
UNION ALL
SELECT DISTINCT 'order_id', order_id FROM batch_keys
WHERE event_type = 'order_created' AND order_id IS NOT NULL
  AND order_id NOT IN (SELECT key FROM seen_keys WHERE kind = 'order_id')
