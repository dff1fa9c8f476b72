"""The two builders of landing records agree: the landing ingestor's own threaded read (DuckDB)
and ``keep_landing_records``, which Spark runs on its executors (tests/spark/test_landing_lines.py),
here through the in-process engine's ``keep_lines`` (lines numbered per file there, records then
numbered across the files by the Bronze pass, odd lines mended in Python). Odd files
included: invalid UTF-8, an empty line, no final newline, an empty file, an oversized line, a
name that needs URI escaping."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from salesflow.bronze.landing_ingest import LandingIngestor
from salesflow.bronze.landing_tasks import keep_landing_records, received
from salesflow.bronze.oversized import PayloadLimit, by_reference
from salesflow.bronze.rows import RECEIVED
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.sources.landing import Segment

FILES = {
    "events-0001.jsonl": b'{"a":1}\n\xff\xfe broken\n\n{"b":2}',
    "events-0002 x%.jsonl": b"",
    "events-0003.jsonl": b'{"c":"' + b"x" * 300 + b'"}\n{"event_time":"2026-09-01T10:00:00Z"}\n'
                         + '"{}"'.format("é" * 60).encode(),  # over the limit in bytes, not in characters
}


@pytest.mark.parametrize("one_pass", [True, False], ids=["model beside its records", "model joined back"])
def test_keep_lines_builds_the_records_the_landing_reader_builds(tmp_path: Path, one_pass: bool,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of adding bronze.events' columns: in the pass that carries the records (the
    shipped model is one plain SELECT) and joined back on record_seq (any other model)."""
    if not one_pass:
        monkeypatch.setattr("salesflow.bronze.rows.beside_input", lambda *args: None)
    landing, keep = tmp_path / "landing", tmp_path / "oversized"
    landing.mkdir()
    for i, (name, content) in enumerate(FILES.items()):
        (landing / name).write_bytes(content)
        os.utime(landing / name, (1_700_000_000 + i, 1_700_000_000.25 + i))
    limit = PayloadLimit(100, keep)
    segments = [Segment(landing / name) for name in sorted(FILES)]
    own = received(by_reference(LandingIngestor._read(None, segments, 7), limit))  # type: ignore[arg-type]
    with DuckDBEngine() as engine:
        files = [(s.path.resolve().as_uri(), int(s.path.stat().st_mtime * 1_000_000)) for s in segments]
        count = keep_landing_records(engine, files, 7, limit)
        kept = engine.query(f"SELECT {', '.join(RECEIVED.names)} FROM bronze_rows ORDER BY record_seq")  # noqa: S608 - our own names
        dates = engine.query("SELECT event_date FROM bronze_rows ORDER BY record_seq")["event_date"].to_pylist()
    assert count == own.num_rows == 7  # the empty line inside a file is a record, a missing last newline is not one
    assert kept.cast(own.schema).equals(own.cast(own.schema)), (kept.to_pylist(), own.to_pylist())
    assert own["valid_utf8"].to_pylist() == [True, False, True, True, True, True, True]
    assert own["ingest_error"].null_count == 5  # the oversized lines went by reference
    assert dates == [None] * 5 + [date(2026, 9, 1), None]  # the model's own column, beside the right record
