-- bronze.events: what Bronze adds to each raw landing record. The record itself (payload,
-- valid_utf8 flag, source, file, position, sequence, batch, publish time, ingest_error) is kept
-- as received: write_bronze puts it beside these columns unchanged rather than copy every value
-- through the engine and back. event_date is a best-effort read of the date written in
-- event_time (NULL when the record cannot tell) so Bronze can be replayed by date without
-- parsing every payload; the backfill allows a day's margin for offsets other than UTC.
SELECT
    record_seq,
    {{ ingested_at }} AS ingested_at,
    -- Find the key first, then match the short text after it: a regular expression over the
    -- whole payload cost twice as much as the rest of this model.
    TRY_CAST(regexp_extract(substr(payload, strpos(payload, '"event_time"'), 64),
                            '^"event_time"\s*:\s*"([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) AS DATE) AS event_date
FROM landing_records
