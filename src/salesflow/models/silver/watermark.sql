-- silver.watermark: newest event time accepted so far, less the allowed lateness. Events older
-- than this are still accepted and update their windows, but are marked late.
SELECT max(event_time) - to_seconds({{ allowed_lateness_seconds }}) AS watermark
FROM (
    SELECT event_time FROM seen_orders
    UNION ALL SELECT event_time FROM seen_product_views
    UNION ALL SELECT event_time FROM seen_cart_adds
)
