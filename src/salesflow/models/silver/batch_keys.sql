-- silver.batch_keys: the keys a batch's valid events could collide on; the dedupe state is cut
-- down to these before seen_keys is built, so a batch costs the same however large the state is.
SELECT event_id, order_id FROM classified_events WHERE problem IS NULL
