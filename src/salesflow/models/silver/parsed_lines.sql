-- silver.parsed_lines: order lines of otherwise-valid orders, typed, with the first rule each
-- line breaks. line_number is the 1-based position in the order's `lines` array.
WITH orders AS (
    SELECT batch_id, record_seq, json_extract(lines, '$[*]') AS items
    FROM parsed_events
    WHERE problem IS NULL AND event_type = 'order_created'
),
exploded AS (
    SELECT batch_id, record_seq, unnest(items) AS item, generate_subscripts(items, 1) AS line_number
    FROM orders
),
fields AS (
    SELECT batch_id, record_seq, line_number, json_type(item) AS item_t,
        json_transform(item, '{"product_id":"JSON","quantity":"JSON","unit_price":"JSON","discount":"JSON"}') AS l
    FROM exploded
),
typed AS (
    SELECT batch_id, record_seq, line_number, item_t,
        json_extract_string(l.product_id, '$') AS product_id, json_type(l.product_id) AS product_id_t,
        TRY_CAST(l.quantity AS BIGINT) AS quantity, json_type(l.quantity) AS quantity_t,
        TRY_CAST(l.unit_price AS DECIMAL(18, 2)) AS unit_price,
        TRY_CAST(l.unit_price AS DECIMAL(38, 6)) AS unit_price_exact, json_type(l.unit_price) AS unit_price_t,
        COALESCE(TRY_CAST(l.discount AS DECIMAL(18, 2)), 0) AS discount,
        COALESCE(TRY_CAST(l.discount AS DECIMAL(38, 6)), 0) AS discount_exact, json_type(l.discount) AS discount_t
    FROM fields
)
SELECT
    batch_id, record_seq, line_number, product_id, quantity, unit_price, discount,
    CAST(quantity * unit_price - discount AS DECIMAL(18, 2)) AS revenue,
    CASE
        WHEN item_t <> 'OBJECT' THEN 'invalid_type:lines'
        WHEN product_id_t IS NULL THEN 'missing_field:lines.product_id'
        WHEN quantity_t IS NULL THEN 'missing_field:lines.quantity'
        WHEN unit_price_t IS NULL THEN 'missing_field:lines.unit_price'
        WHEN product_id_t <> 'VARCHAR' THEN 'invalid_type:lines.product_id'
        WHEN quantity_t NOT IN ('UBIGINT', 'BIGINT') THEN 'invalid_type:lines.quantity'
        WHEN unit_price_t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN 'invalid_type:lines.unit_price'
        WHEN discount_t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'NULL') THEN 'invalid_type:lines.discount'
        WHEN product_id = '' THEN 'invalid_value:lines.product_id'
        WHEN unit_price IS NULL OR unit_price_exact <> unit_price THEN 'invalid_value:lines.unit_price'
        WHEN discount_exact <> discount THEN 'invalid_value:lines.discount'
        WHEN quantity <= 0 THEN 'non_positive_quantity:lines.quantity'
        WHEN unit_price < 0 THEN 'negative_amount:lines.unit_price'
        WHEN discount < 0 THEN 'negative_amount:lines.discount'
        WHEN discount > quantity * unit_price THEN 'invalid_value:lines.discount'
    END AS problem
FROM typed
