"""Splitting landing segments into Arrow lines, and decoding them, agree with the plain Python way."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from salesflow.bronze.oversized import PayloadLimit
from salesflow.common.lines import decode_lines
from salesflow.sources.landing import line_array


def split_lines(data: bytes) -> list[bytes]:
    """The reference: one record per line, without the newline; a trailing empty line is none."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


EDGES = [b"", b"\n", b"\n\n", b"a", b"a\n", b"a\n\nbc", b'{"x":1}\n{"y":2}\n', b"\x00\n\xff\xfe\n\xc3\xa9\n"]


def _random_segment(seed: int) -> bytes:
    rng = random.Random(seed)
    alphabet = [b"a", b"{", b'"', b"\n", b"\n", b"\x00", b"\xff", b"\xc3\xa9", b"\xe2\x82", b"\xf0\x9f\x98\x80"]
    return b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))


@pytest.mark.parametrize("data", EDGES + [_random_segment(seed) for seed in range(40)])
def test_line_array_splits_like_split_lines(data: bytes) -> None:
    assert line_array(data).to_pylist() == split_lines(data)


@pytest.mark.parametrize("seed", range(20))
def test_decode_flags_exactly_the_invalid_lines(seed: int) -> None:
    lines = split_lines(_random_segment(seed))
    array = line_array(b"\n".join([b"skip"] + lines) + b"\n").slice(1)  # an offset into the buffers too
    text, valid = decode_lines(array)
    expected_valid = []
    for line in lines:
        try:
            line.decode("utf-8")
            expected_valid.append(True)
        except UnicodeDecodeError:
            expected_valid.append(False)
    assert valid.to_pylist() == expected_valid
    assert text.to_pylist() == [line.decode("utf-8", errors="replace") for line in lines]
    list_text, list_valid = decode_lines(lines)
    assert list_text.equals(text) and list_valid.equals(valid)


def test_next_batch_is_ingested_ahead_and_a_stop_waits_for_it(tmp_path: Path) -> None:
    """Batches are ingested on a worker thread, the next while one goes downstream: handed over
    with their rows, committed to Bronze with the checkpoint behind them. A stop between the two
    waits for the step in flight, so the checkpoint never lags a commit."""
    import pyarrow.dataset as ds

    from salesflow.config import load_settings
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.lake.delta import Lake
    from salesflow.lake.tables import BRONZE_EVENTS
    from salesflow.pipeline.runner import landing_source
    from salesflow.simulator import SimulationSpec
    from tests.conftest import land

    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 20_000})
    land(settings, SimulationSpec(events=600, seed=2), per_segment=100)
    lake = Lake(settings.lake_root)
    bronze = landing_source(settings, lake, DuckDBEngine())
    batches = bronze.batches()
    first = next(batches)
    first.durable()  # its rows came before its commit: this waits for it
    assert lake.txn_version(BRONZE_EVENTS, "salesflow.bronze.landing") == first.batch_id
    assert bronze.ahead is not None
    ahead = bronze.ahead._ahead
    assert ahead is not None
    done = ahead[0].result(timeout=60)  # committed by the worker before the caller asks for it
    assert done is not None and done.batch_id == first.batch_id + 1
    assert lake.txn_version(BRONZE_EVENTS, "salesflow.bronze.landing") == done.batch_id
    second = next(batches)
    second.durable()
    assert second.batch_id == done.batch_id and second.table is not None
    in_bronze = lake.read(BRONZE_EVENTS, filter=ds.field("batch_id") == second.batch_id)
    assert in_bronze is not None and sorted(in_bronze["source_position"].to_pylist()) == \
        sorted(second.table["source_position"].to_pylist())
    batches.close()  # a stop: the third batch, in flight, is committed whole or not at all
    assert bronze.ahead._ahead is None
    committed = lake.txn_version(BRONZE_EVENTS, "salesflow.bronze.landing")
    assert committed == second.batch_id + 1 and bronze.checkpoint.pending is None
    assert bronze.checkpoint.batch_id == committed
    rest = list(bronze.batches())  # a restart takes up after it, nothing twice
    positions = lake.read(BRONZE_EVENTS, columns=["source_position"])["source_position"].to_pylist()
    assert rest and rest[0].batch_id == committed + 1 and len(positions) == len(set(positions)) == 600


PAYLOADS = [
    b'{"event_type":"order_created","event_time":"2026-03-04T05:06:07Z"}',
    b'{"a": "x" , "event_time" :  "2026-12-31T23:30:00-05:00"}',  # the date as written, not in UTC
    b'{"event_time":20260304}',
    b'{"note":"\\"event_time\\":\\"2026-01-01\\"","event_time":"2026-02-02T00:00:00Z"}',
    b'not json, "event_time":"2026-05-06"',  # best effort: the text is read, not parsed as JSON
    b"\xff\xfe",
    b"",
]


def test_bronze_keeps_each_payload_as_received_and_reads_its_date(tmp_path: Path) -> None:
    """The bronze.events model computes only what Bronze adds; every record's payload, valid_utf8
    flag and lineage go into Bronze unchanged, beside the values computed for that record, even
    when the engine hands its rows back in another order. event_date is the date written in
    event_time, NULL when there is none."""
    from datetime import date

    import pyarrow as pa

    from salesflow.bronze.rows import RECEIVED, as_received, bronze_input, write_bronze
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.errors import ModelError
    from salesflow.lake.delta import Lake
    from salesflow.lake.tables import BRONZE_EVENTS

    records = bronze_input(PAYLOADS, "test", "f", pa.array([str(i) for i in range(len(PAYLOADS))]), 10, 3,
                           pa.scalar(0, pa.timestamp("us", "UTC")))
    lake = Lake(str(tmp_path / "lake"))
    rows, written = write_bronze(lake, DuckDBEngine(), records, "test", 3, {}, PayloadLimit())
    assert written
    stored = lake.read(BRONZE_EVENTS).sort_by("record_seq")
    assert stored.column_names == rows.column_names == [*RECEIVED.names, "ingested_at", "event_date"]
    assert stored["payload"].to_pylist() == [p.decode("utf-8", errors="replace") for p in PAYLOADS]
    assert stored["valid_utf8"].to_pylist() == [True] * 5 + [False, True]
    assert stored["record_seq"].to_pylist() == list(range(10, 10 + len(PAYLOADS)))
    assert stored["event_date"].to_pylist() == [date(2026, 3, 4), date(2026, 12, 31), None,
                                                date(2026, 2, 2), date(2026, 5, 6), None, None]
    assert stored["source_position"].to_pylist() == [str(i) for i in range(len(PAYLOADS))]
    assert set(stored["batch_id"].to_pylist()) == {3} and set(stored["source_file"].to_pylist()) == {"f"}
    model_rows = rows.select(["record_seq", "ingested_at", "event_date"])
    shuffled = model_rows.take(pa.array([3, 0, 6, 1, 5, 2, 4]))
    assert as_received(records, shuffled).equals(rows.combine_chunks())
    with pytest.raises(ModelError, match="once"):
        as_received(records, model_rows.slice(1))
