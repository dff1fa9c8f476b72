-- silver.seen_keys: dedupe state, the keys already accepted in earlier batches that this batch's
-- valid events carry, with what a re-used key is compared on (conflicting_duplicate: an event's
-- time, an order's money) and the batch that accepted it. The semi-joins keep it to what the batch
-- could collide on (a hash table of the batch's keys, probed by the state), so a batch costs the
-- same however large the state is.
WITH batch_keys AS (SELECT event_id, order_id FROM classified_events WHERE problem IS NULL),
seen AS (
    SELECT event_id, order_id, event_time, total_amount, currency, batch_id FROM seen_orders
    UNION ALL SELECT event_id, NULL, event_time, NULL, NULL, batch_id FROM seen_product_views
    UNION ALL SELECT event_id, NULL, event_time, NULL, NULL, batch_id FROM seen_cart_adds
)
SELECT 'event_id' AS kind, event_id AS key, event_time, total_amount, currency, batch_id
FROM seen
WHERE event_id IN (SELECT event_id FROM batch_keys)
UNION ALL
SELECT 'order_id', order_id, event_time, total_amount, currency, batch_id FROM seen
WHERE order_id IN (SELECT order_id FROM batch_keys WHERE order_id IS NOT NULL)
