-- silver.seen_keys: dedupe state, the keys already accepted in earlier batches.
SELECT 'event_id' AS kind, event_id AS key FROM seen_orders
UNION ALL SELECT 'event_id', event_id FROM seen_product_views
UNION ALL SELECT 'event_id', event_id FROM seen_cart_adds
UNION ALL SELECT 'order_id', order_id FROM seen_orders
