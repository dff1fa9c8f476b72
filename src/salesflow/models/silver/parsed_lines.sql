-- silver.parsed_lines: order lines of otherwise-valid orders, typed, with the first rule each
-- line breaks. line_number is the 1-based position in the order's `lines` array.
WITH orders AS (
    SELECT batch_id, record_seq, json_extract(lines, '$[*]') AS items
    FROM parsed_events
    WHERE problem IS NULL AND event_type = 'order_created'
),
line_items AS (
    SELECT batch_id, record_seq, unnest(items) AS item, generate_subscripts(items, 1) AS line_number
    FROM orders
),
{{> silver._line_rules }}
SELECT * FROM line_verdicts
