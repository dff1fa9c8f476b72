-- silver.parsed_events: one row per Bronze record, typed, with the first contract rule it breaks.
-- `problem` is NULL for a valid event, else 'reason' or 'reason:field'. The rules run in a fixed
-- priority so every record gets exactly one reason. Numbers must be JSON numbers and ids JSON
-- strings, as in the pydantic contract (a test checks both sides agree).
WITH raw AS (
    SELECT batch_id, record_seq, source, source_position, payload, valid_utf8, ingested_at, ingest_error,
           strlen(payload) AS payload_bytes
    FROM bronze_batch
),
checked AS (
    SELECT *, valid_utf8 AND payload_bytes <= {{ max_payload_bytes }}
              AND json_valid(payload) AND starts_with(ltrim(payload), '{') AS is_object
    FROM raw
),
-- One pass reads every field: text typed (a non-string value comes back as its JSON text), numbers
-- and lines as JSON. Reading one struct of JSON values again field by field cost a sixth more.
-- Numbers are cast from their JSON text (a cast of the JSON value would parse it again; where the
-- two differ, on JSON strings, the type check has already refused the value), and lines are empty
-- when their text is '[]' (the JSON is minified).
decoded AS (
    SELECT *,
        CASE WHEN is_object THEN json_transform(payload, '{"event_type":"VARCHAR","schema_version":"JSON",
            "event_id":"VARCHAR","event_time":"VARCHAR","order_id":"VARCHAR","customer_id":"VARCHAR",
            "session_id":"VARCHAR","store_id":"VARCHAR","product_id":"VARCHAR","channel":"VARCHAR",
            "currency":"VARCHAR","payment_method":"VARCHAR","lines":"JSON","total_amount":"JSON",
            "quantity":"JSON","quarantined_lines":"JSON"}') END AS f
    FROM checked
),
-- The JSON type of each text field. A value that is not JSON text itself came from a string; one
-- that is (a number, true, an object, or a string that reads like one) is typed at its path. Only
-- such rows pay that second pass over the payload, where every row paid it before (a fifth of
-- this model). A JSON null counts as missing, as in the contract: NULLIF below.
typed AS (
    SELECT *,
        CASE WHEN json_valid(f.event_type) OR json_valid(f.event_id) OR json_valid(f.event_time)
               OR json_valid(f.order_id) OR json_valid(f.customer_id) OR json_valid(f.session_id)
               OR json_valid(f.store_id) OR json_valid(f.product_id) OR json_valid(f.channel)
               OR json_valid(f.currency) OR json_valid(f.payment_method)
            THEN json_type(payload, ['$.event_type', '$.event_id', '$.event_time', '$.order_id',
                '$.customer_id', '$.session_id', '$.store_id', '$.product_id',
                '$.channel', '$.currency', '$.payment_method']) END AS t
    FROM decoded
),
fields AS (
    SELECT batch_id, record_seq, source, source_position, payload, valid_utf8, ingested_at, ingest_error,
        payload_bytes, is_object,
        f.event_type AS event_type, CASE WHEN t IS NOT NULL THEN nullif(t[1], 'NULL') WHEN f.event_type IS NOT NULL THEN 'VARCHAR' END AS event_type_t,
        TRY_CAST(CAST(f.schema_version AS VARCHAR) AS BIGINT) AS schema_version, nullif(json_type(f.schema_version), 'NULL') AS schema_version_t,
        f.event_id AS event_id, CASE WHEN t IS NOT NULL THEN nullif(t[2], 'NULL') WHEN f.event_id IS NOT NULL THEN 'VARCHAR' END AS event_id_t,
        f.event_time AS event_time_raw, CASE WHEN t IS NOT NULL THEN nullif(t[3], 'NULL') WHEN f.event_time IS NOT NULL THEN 'VARCHAR' END AS event_time_t,
        f.order_id AS order_id, CASE WHEN t IS NOT NULL THEN nullif(t[4], 'NULL') WHEN f.order_id IS NOT NULL THEN 'VARCHAR' END AS order_id_t,
        f.customer_id AS customer_id, CASE WHEN t IS NOT NULL THEN nullif(t[5], 'NULL') WHEN f.customer_id IS NOT NULL THEN 'VARCHAR' END AS customer_id_t,
        f.session_id AS session_id, CASE WHEN t IS NOT NULL THEN nullif(t[6], 'NULL') WHEN f.session_id IS NOT NULL THEN 'VARCHAR' END AS session_id_t,
        f.store_id AS store_id, CASE WHEN t IS NOT NULL THEN nullif(t[7], 'NULL') WHEN f.store_id IS NOT NULL THEN 'VARCHAR' END AS store_id_t,
        f.product_id AS product_id, CASE WHEN t IS NOT NULL THEN nullif(t[8], 'NULL') WHEN f.product_id IS NOT NULL THEN 'VARCHAR' END AS product_id_t,
        f.channel AS channel, CASE WHEN t IS NOT NULL THEN nullif(t[9], 'NULL') WHEN f.channel IS NOT NULL THEN 'VARCHAR' END AS channel_t,
        f.currency AS currency, CASE WHEN t IS NOT NULL THEN nullif(t[10], 'NULL') WHEN f.currency IS NOT NULL THEN 'VARCHAR' END AS currency_t,
        f.payment_method AS payment_method, CASE WHEN t IS NOT NULL THEN nullif(t[11], 'NULL') WHEN f.payment_method IS NOT NULL THEN 'VARCHAR' END AS payment_method_t,
        f.lines AS lines, nullif(json_type(f.lines), 'NULL') AS lines_t,
        TRY_CAST(CAST(f.total_amount AS VARCHAR) AS DECIMAL(18, 2)) AS total_amount,
        TRY_CAST(CAST(f.total_amount AS VARCHAR) AS DECIMAL(38, 18)) AS total_amount_exact, nullif(json_type(f.total_amount), 'NULL') AS total_amount_t,
        TRY_CAST(CAST(f.quantity AS VARCHAR) AS BIGINT) AS quantity, nullif(json_type(f.quantity), 'NULL') AS quantity_t,
        TRY_CAST(CAST(f.quarantined_lines AS VARCHAR) AS BIGINT) AS quarantined_lines,
        nullif(json_type(f.quarantined_lines), 'NULL') AS quarantined_lines_t
    FROM typed
),
flagged AS (
    SELECT *,
        event_type = 'order_created' AS is_order,
        event_type IN ('product_viewed', 'add_to_cart') AS is_browse,
        -- The shortest text a view or cart event could have with just the known fields found:
        -- each member is its key in quotes, a colon and a comma, then a string's bytes and quotes
        -- or, for any other value, at least one byte; the braces less one comma. Only fields the
        -- event type knows may count (a test holds this to the contract).
        1 + CASE WHEN event_type_t = 'VARCHAR' THEN strlen('"event_type":,""') + strlen(event_type) WHEN event_type_t IS NOT NULL THEN strlen('"event_type":,0') ELSE 0 END
          + CASE WHEN schema_version_t IS NOT NULL THEN strlen('"schema_version":,0') ELSE 0 END
          + CASE WHEN event_id_t = 'VARCHAR' THEN strlen('"event_id":,""') + strlen(event_id) WHEN event_id_t IS NOT NULL THEN strlen('"event_id":,0') ELSE 0 END
          + CASE WHEN event_time_t = 'VARCHAR' THEN strlen('"event_time":,""') + strlen(event_time_raw) WHEN event_time_t IS NOT NULL THEN strlen('"event_time":,0') ELSE 0 END
          + CASE WHEN session_id_t = 'VARCHAR' THEN strlen('"session_id":,""') + strlen(session_id) WHEN session_id_t IS NOT NULL THEN strlen('"session_id":,0') ELSE 0 END
          + CASE WHEN customer_id_t = 'VARCHAR' THEN strlen('"customer_id":,""') + strlen(customer_id) WHEN customer_id_t IS NOT NULL THEN strlen('"customer_id":,0') ELSE 0 END
          + CASE WHEN store_id_t = 'VARCHAR' THEN strlen('"store_id":,""') + strlen(store_id) WHEN store_id_t IS NOT NULL THEN strlen('"store_id":,0') ELSE 0 END
          + CASE WHEN product_id_t = 'VARCHAR' THEN strlen('"product_id":,""') + strlen(product_id) WHEN product_id_t IS NOT NULL THEN strlen('"product_id":,0') ELSE 0 END
          + CASE WHEN channel_t = 'VARCHAR' THEN strlen('"channel":,""') + strlen(channel) WHEN channel_t IS NOT NULL THEN strlen('"channel":,0') ELSE 0 END
          + CASE WHEN quantity_t IS NOT NULL AND event_type = 'add_to_cart' THEN strlen('"quantity":,0') ELSE 0 END AS browse_known_bytes,
        TRY_CAST(CASE WHEN ends_with(event_time_raw, 'Z') OR regexp_matches(event_time_raw, {{ utc_offset }})
                      THEN event_time_raw END AS TIMESTAMPTZ) AS event_time,
        -- A control character in an id (a NUL breaks PostgreSQL; none belongs in a key) can only be
        -- escaped in JSON, so only payloads with a backslash are searched, with one pattern over
        -- every id at once; which id holds it is looked up only for the rare row that has one.
        -- (A CASE, not AND: DuckDB evaluates both sides of an AND in a projection.)
        CASE WHEN contains(payload, '\') THEN regexp_matches(
            concat_ws('', event_id, order_id, customer_id, session_id, store_id, product_id),
            {{ control_characters }}) ELSE FALSE END AS has_control,
        CASE
            WHEN event_id_t IS NULL THEN 'event_id'
            WHEN event_time_t IS NULL THEN 'event_time'
            WHEN event_type = 'order_created' THEN CASE
                WHEN order_id_t IS NULL THEN 'order_id'
                WHEN customer_id_t IS NULL THEN 'customer_id'
                WHEN store_id_t IS NULL THEN 'store_id'
                WHEN channel_t IS NULL THEN 'channel'
                WHEN currency_t IS NULL THEN 'currency'
                WHEN payment_method_t IS NULL THEN 'payment_method'
                WHEN lines_t IS NULL THEN 'lines'
                WHEN total_amount_t IS NULL THEN 'total_amount' END
            ELSE CASE
                WHEN session_id_t IS NULL THEN 'session_id'
                WHEN product_id_t IS NULL THEN 'product_id'
                WHEN store_id_t IS NULL THEN 'store_id'
                WHEN channel_t IS NULL THEN 'channel'
                WHEN event_type = 'add_to_cart' AND quantity_t IS NULL THEN 'quantity' END
        END AS missing,
        CASE
            WHEN event_id_t <> 'VARCHAR' THEN 'event_id'
            WHEN event_time_t <> 'VARCHAR' THEN 'event_time'
            WHEN store_id_t <> 'VARCHAR' THEN 'store_id'
            WHEN channel_t <> 'VARCHAR' THEN 'channel'
            WHEN customer_id_t <> 'VARCHAR' THEN 'customer_id'
            WHEN event_type = 'order_created' THEN CASE
                WHEN order_id_t <> 'VARCHAR' THEN 'order_id'
                WHEN currency_t <> 'VARCHAR' THEN 'currency'
                WHEN payment_method_t <> 'VARCHAR' THEN 'payment_method'
                WHEN lines_t <> 'ARRAY' THEN 'lines'
                WHEN total_amount_t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN 'total_amount'
                WHEN quarantined_lines_t NOT IN ('UBIGINT', 'BIGINT') THEN 'quarantined_lines' END
            ELSE CASE
                WHEN session_id_t <> 'VARCHAR' THEN 'session_id'
                WHEN product_id_t <> 'VARCHAR' THEN 'product_id'
                WHEN event_type = 'add_to_cart' AND quantity_t NOT IN ('UBIGINT', 'BIGINT') THEN 'quantity' END
        END AS wrong_type,
        -- Ids are keys: 1 to max_id_chars characters (a long one is a document in the wrong place).
        CASE
            WHEN event_id = '' OR length(event_id) > {{ max_id_chars }} THEN 'event_id'
            WHEN store_id = '' OR length(store_id) > {{ max_id_chars }} THEN 'store_id'
            WHEN customer_id = '' OR length(customer_id) > {{ max_id_chars }} THEN 'customer_id'
            WHEN channel NOT IN {{ channels }} THEN 'channel'
            WHEN event_type = 'order_created' THEN CASE
                WHEN order_id = '' OR length(order_id) > {{ max_id_chars }} THEN 'order_id'
                WHEN NOT regexp_full_match(currency, '[A-Z]{3}') THEN 'currency'
                WHEN payment_method NOT IN {{ payment_methods }} THEN 'payment_method'
                WHEN CAST(lines AS VARCHAR) = '[]' THEN 'lines'
                WHEN total_amount IS NULL OR total_amount_exact IS NULL OR total_amount_exact <> total_amount
                    THEN 'total_amount'
                WHEN quarantined_lines_t IS NOT NULL
                     AND COALESCE(quarantined_lines NOT BETWEEN 0 AND {{ max_quarantined_lines }}, TRUE)
                    THEN 'quarantined_lines' END
            ELSE CASE
                WHEN session_id = '' OR length(session_id) > {{ max_id_chars }} THEN 'session_id'
                WHEN product_id = '' OR length(product_id) > {{ max_id_chars }} THEN 'product_id' END
        END AS bad_value,
        CASE WHEN total_amount_exact NOT BETWEEN -{{ max_amount }} AND {{ max_amount }}
                 THEN 'implausible_amount:total_amount'
             WHEN event_type = 'add_to_cart' AND (quantity IS NULL OR quantity > {{ max_quantity }})
                 THEN 'implausible_quantity:quantity'
        END AS implausible
    FROM fields
),
bounded AS (
    SELECT *, event_time NOT BETWEEN {{ earliest_event_time }}
                                 AND ingested_at + to_seconds({{ max_future_seconds }}) AS implausible_time,
        -- The event's keys, for drift and for the repeated-key rule (salesflow.contract.duplicate_keys).
        -- Reading them parses the payload again, a fifth of this model, so a view or cart event
        -- too short to hold one more member (,"":0 is 5 bytes) beside the known fields found has
        -- neither an unknown nor a repeated key. Orders' lines have no such bound (their JSON
        -- text, written anew, can be longer than the payload's) and always pay.
        CASE WHEN is_order OR (is_browse AND payload_bytes >= browse_known_bytes + 5)
             THEN json_keys(payload) END AS keys,
        -- Known fields an order has with a value: with its unknown fields, as many as its keys
        -- unless one is repeated (or null-valued). Only where the two differ does the exact check,
        -- a hash of every key (2 us an order), run.
        CASE WHEN is_order THEN (event_type_t IS NOT NULL)::INT + (schema_version_t IS NOT NULL)::INT
            + (event_id_t IS NOT NULL)::INT + (event_time_t IS NOT NULL)::INT + (order_id_t IS NOT NULL)::INT
            + (customer_id_t IS NOT NULL)::INT + (store_id_t IS NOT NULL)::INT + (channel_t IS NOT NULL)::INT
            + (currency_t IS NOT NULL)::INT + (payment_method_t IS NOT NULL)::INT + (lines_t IS NOT NULL)::INT
            + (total_amount_t IS NOT NULL)::INT + (quarantined_lines_t IS NOT NULL)::INT END AS order_known
    FROM flagged
),
drift AS (
    SELECT *,
        -- Fields the contract does not know (schema drift).
        CASE WHEN is_order THEN list_filter(keys, lambda k: NOT list_contains({{ order_fields }}, k))
             WHEN is_browse AND keys IS NULL THEN CAST([] AS VARCHAR[])
             WHEN event_type = 'product_viewed' THEN list_filter(keys, lambda k: NOT list_contains({{ view_fields }}, k))
             WHEN event_type = 'add_to_cart' THEN list_filter(keys, lambda k: NOT list_contains({{ cart_fields }}, k))
        END AS extra_fields
    FROM bounded
),
keyed AS (
    SELECT *,
        CASE WHEN keys IS NULL THEN FALSE
             WHEN is_order AND array_length(keys) = order_known + array_length(extra_fields)
                 THEN CASE WHEN array_length(extra_fields) > 1
                           THEN array_length(extra_fields) <> array_length(list_distinct(extra_fields))
                           ELSE FALSE END
             ELSE array_length(keys) <> array_length(list_distinct(keys)) END AS repeated_key
    FROM drift
)
SELECT
    batch_id, record_seq, source, source_position, ingested_at,
    -- A time outside the bounds is not passed on: year 10000 or 1 BC fits no calendar downstream.
    event_type, event_id, CASE WHEN NOT implausible_time THEN event_time END AS event_time,
    -- The day in the reporting zone (pipeline.reporting_timezone; UTC by default): every daily figure follows it.
    CASE WHEN NOT implausible_time THEN CAST(event_time AT TIME ZONE {{ reporting_timezone }} AS DATE) END AS event_date,
    order_id, customer_id, session_id, store_id, product_id, channel, currency, payment_method,
    lines, total_amount, quantity, CASE WHEN is_order THEN COALESCE(quarantined_lines, 0) END AS quarantined_lines,
    extra_fields,
    CASE
        WHEN ingest_error IS NOT NULL THEN ingest_error
        WHEN NOT valid_utf8 THEN 'invalid_encoding'
        WHEN payload_bytes > {{ max_payload_bytes }} THEN 'payload_too_large'
        WHEN NOT is_object THEN 'malformed_json'
        WHEN repeated_key THEN 'malformed_json:duplicate_key'
        WHEN event_type_t IS NULL THEN 'missing_field:event_type'
        WHEN event_type_t <> 'VARCHAR' THEN 'invalid_type:event_type'
        WHEN event_type NOT IN {{ event_types }} THEN 'unknown_event_type'
        WHEN schema_version_t IS NOT NULL
             AND (schema_version_t NOT IN ('UBIGINT', 'BIGINT') OR schema_version <> {{ contract_version }})
            THEN 'unsupported_version:schema_version'
        WHEN missing IS NOT NULL THEN 'missing_field:' || missing
        WHEN wrong_type IS NOT NULL THEN 'invalid_type:' || wrong_type
        WHEN event_time IS NULL THEN 'invalid_timestamp:event_time'
        WHEN implausible_time THEN 'implausible_time:event_time'
        WHEN bad_value IS NOT NULL THEN 'invalid_value:' || bad_value
        WHEN has_control THEN 'invalid_value:' || CASE
            WHEN regexp_matches(event_id, {{ control_characters }}) THEN 'event_id'
            WHEN regexp_matches(store_id, {{ control_characters }}) THEN 'store_id'
            WHEN regexp_matches(customer_id, {{ control_characters }}) THEN 'customer_id'
            WHEN regexp_matches(order_id, {{ control_characters }}) THEN 'order_id'
            WHEN regexp_matches(session_id, {{ control_characters }}) THEN 'session_id'
            ELSE 'product_id' END
        WHEN implausible IS NOT NULL THEN implausible
        WHEN is_order AND currency <> {{ reporting_currency }} THEN 'unsupported_currency:currency'
        WHEN event_type = 'add_to_cart' AND quantity <= 0 THEN 'non_positive_quantity:quantity'
    END AS problem
FROM keyed
