-- bronze.events: ingestion metadata of raw landing records. The payload and its valid_utf8 flag
-- are kept as received: write_bronze puts them beside these columns unchanged rather than copy
-- every payload through the engine and back. event_date is a best-effort read of the date written
-- in event_time (NULL when the record cannot tell) so Bronze can be replayed by date without
-- parsing every payload; the backfill allows a day's margin for offsets other than UTC.
-- ingest_error is set by a source adapter that could not split a record (a CSV row with the
-- wrong number of fields); Silver quarantines those.
SELECT
    source,
    source_file,
    source_position,
    record_seq,
    batch_id,
    produced_at,
    ingest_error,
    {{ ingested_at }} AS ingested_at,
    -- Find the key first, then match the short text after it: a regular expression over the
    -- whole payload cost twice as much as the rest of this model.
    TRY_CAST(regexp_extract(substr(payload, strpos(payload, '"event_time"'), 64),
                            '^"event_time"\s*:\s*"([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) AS DATE) AS event_date
FROM landing_records
