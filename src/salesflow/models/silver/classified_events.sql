-- silver.classified_events: every Bronze record with its final verdict. An order takes the first
-- problem among its lines, and a total that disagrees with its lines by more than a cent.
-- Only orders' verdicts change here. deduped_events holds just the records this verdict accepts,
-- so models that need no more than that and parsed_events' columns join those two and skip this
-- view's join (product_views, cart_adds, order_lines, duplicates, schema_drift).
WITH line_checks AS (
    SELECT record_seq,
        arg_min(problem, line_number) FILTER (WHERE problem IS NOT NULL) AS line_problem,
        sum(revenue) AS lines_revenue,
        sum(quantity) AS units,
        count(*) AS line_count
    FROM parsed_lines
    GROUP BY record_seq
)
SELECT e.* EXCLUDE (problem, lines),
    c.units, c.line_count,
    COALESCE(e.problem, c.line_problem,
        CASE WHEN e.event_type = 'order_created' AND abs(c.lines_revenue - e.total_amount) > 0.01
             THEN 'total_mismatch:total_amount' END) AS problem
FROM parsed_events e
LEFT JOIN line_checks c USING (record_seq)
