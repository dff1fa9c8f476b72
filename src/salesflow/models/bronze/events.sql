-- bronze.events: raw landing records plus ingestion metadata. The payload is kept as received;
-- event_date is a best-effort read of event_time (NULL when the record cannot tell) so Bronze can
-- be replayed by date without parsing every payload. ingest_error is set by a source adapter that
-- could not split a record (a CSV row with the wrong number of fields); Silver quarantines those.
SELECT
    payload,
    valid_utf8,
    source,
    source_file,
    source_position,
    record_seq,
    batch_id,
    produced_at,
    ingest_error,
    {{ ingested_at }} AS ingested_at,
    CAST(TRY_CAST(
        regexp_extract(payload, '"event_time"\s*:\s*"([^"]{10,40})"', 1) AS TIMESTAMPTZ
    ) AS DATE) AS event_date
FROM landing_records
