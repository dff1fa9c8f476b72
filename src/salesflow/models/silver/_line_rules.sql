-- silver._line_rules (a partial: included by name, never run alone): the contract's rules for one
-- order line, as CTEs over a relation line_items(batch_id, record_seq, line_number, item JSON) ending in
-- line_verdicts: the line typed, its revenue, and the first rule it breaks. Silver judges the lines
-- of orders with it (parsed_lines) and a line-grain partner mapping judges each file row with it,
-- so a bad row is quarantined alone for the reason Silver gives it (sources/mapping.py).
line_fields AS (
    SELECT batch_id, record_seq, line_number, json_type(item) AS item_t,
        CAST(item AS VARCHAR) AS item_text,
        json_transform(item, '{"product_id":"JSON","quantity":"JSON","unit_price":"JSON","discount":"JSON"}') AS l
    FROM line_items
),
-- A line naming a key twice is ambiguous (salesflow.contract.duplicate_keys). The line's text is
-- written anew from the same values as its fields, so a line exactly as long as its known members
-- has no other key, repeated or not; only the others pay for reading their keys (0.7 us a line).
line_measured AS (
    SELECT *,
        item_t = 'OBJECT' AND strlen(item_text) <> 1
            + CASE WHEN l.product_id IS NULL THEN 0 ELSE strlen('"product_id":,') + strlen(CAST(l.product_id AS VARCHAR)) END
            + CASE WHEN l.quantity IS NULL THEN 0 ELSE strlen('"quantity":,') + strlen(CAST(l.quantity AS VARCHAR)) END
            + CASE WHEN l.unit_price IS NULL THEN 0 ELSE strlen('"unit_price":,') + strlen(CAST(l.unit_price AS VARCHAR)) END
            + CASE WHEN l.discount IS NULL THEN 0 ELSE strlen('"discount":,') + strlen(CAST(l.discount AS VARCHAR)) END
            AS other_members
    FROM line_fields
),
line_typed AS (
    SELECT batch_id, record_seq, line_number, item_t,
        -- (A CASE, not AND: DuckDB evaluates both sides of an AND in a projection.)
        CASE WHEN other_members THEN array_length(json_keys(item_text)) <> array_length(list_distinct(json_keys(item_text)))
             ELSE FALSE END AS repeated_key,
        json_extract_string(l.product_id, '$') AS product_id, json_type(l.product_id) AS product_id_t,
        TRY_CAST(l.quantity AS BIGINT) AS quantity, json_type(l.quantity) AS quantity_t,
        TRY_CAST(l.unit_price AS DECIMAL(18, 2)) AS unit_price,
        -- 18 places: a price with a third decimal however far out (15.2900001) is not exact, as in
        -- the contract; a discount absent or null is 0, one that does not fit is not.
        TRY_CAST(l.unit_price AS DECIMAL(38, 18)) AS unit_price_exact, json_type(l.unit_price) AS unit_price_t,
        CASE WHEN coalesce(json_type(l.discount), 'NULL') = 'NULL' THEN 0
             ELSE TRY_CAST(l.discount AS DECIMAL(18, 2)) END AS discount,
        CASE WHEN coalesce(json_type(l.discount), 'NULL') = 'NULL' THEN 0
             ELSE TRY_CAST(l.discount AS DECIMAL(38, 18)) END AS discount_exact, json_type(l.discount) AS discount_t
    FROM line_measured
),
-- The line's amount before discount. A return (quantity < 0) has a negative one; a value line
-- (quantity 0: weighed goods, a deposit) counts its unit price once and adds no units
-- (salesflow.contract.events.OrderLine). Only within the bounds: beyond them the product may not
-- fit (the line is quarantined anyway).
line_amounts AS (
    SELECT *,
        CASE WHEN quantity BETWEEN -{{ max_quantity }} AND {{ max_quantity }} AND unit_price <= {{ max_amount }}
             THEN CASE WHEN quantity = 0 THEN unit_price ELSE quantity * unit_price END
        END AS amount
    FROM line_typed
),
line_verdicts AS (
SELECT
    batch_id, record_seq, line_number, product_id, quantity, unit_price, discount,
    CAST(amount - discount AS DECIMAL(18, 2)) AS revenue,
    CASE
        WHEN item_t <> 'OBJECT' THEN 'invalid_type:lines'
        WHEN repeated_key THEN 'malformed_json:lines'
        WHEN product_id_t IS NULL THEN 'missing_field:lines.product_id'
        WHEN quantity_t IS NULL THEN 'missing_field:lines.quantity'
        WHEN unit_price_t IS NULL THEN 'missing_field:lines.unit_price'
        WHEN product_id_t <> 'VARCHAR' THEN 'invalid_type:lines.product_id'
        WHEN quantity_t NOT IN ('UBIGINT', 'BIGINT') THEN 'invalid_type:lines.quantity'
        WHEN unit_price_t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN 'invalid_type:lines.unit_price'
        WHEN discount_t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'NULL') THEN 'invalid_type:lines.discount'
        WHEN product_id = '' OR length(product_id) > {{ max_id_chars }}
             OR regexp_matches(product_id, {{ control_characters }}) THEN 'invalid_value:lines.product_id'
        WHEN unit_price IS NULL OR unit_price_exact IS NULL OR unit_price_exact <> unit_price THEN 'invalid_value:lines.unit_price'
        WHEN discount IS NULL OR discount_exact IS NULL OR discount_exact <> discount THEN 'invalid_value:lines.discount'
        WHEN unit_price < 0 THEN 'negative_amount:lines.unit_price'
        WHEN quantity >= 0 AND discount < 0 THEN 'negative_amount:lines.discount'
        -- BETWEEN, not abs(): abs() of the smallest BIGINT overflows.
        WHEN quantity IS NULL OR quantity NOT BETWEEN -{{ max_quantity }} AND {{ max_quantity }}
            THEN 'implausible_quantity:lines.quantity'
        WHEN unit_price > {{ max_amount }} THEN 'implausible_amount:lines.unit_price'
        -- The discount lies between 0 and the line's amount: negative only on a return. (Every
        -- bound is checked above, so the amount is known here.)
        WHEN discount > greatest(amount, 0) OR discount < least(amount, 0) THEN 'invalid_value:lines.discount'
    END AS problem
FROM line_amounts
)
