"""Spark reads, splits and numbers landing files on its executors (its text source, no Python
worker for plain lines) and builds the records the embedded landing runner builds in its own
process: the same payloads, validity flags, positions, sequence numbers, publish times and
oversized references, for files hypothesis makes hostile (invalid UTF-8, carriage returns, empty
lines, no last newline, empty files, lines over the payload limit) and read in many splits."""

from __future__ import annotations

import os
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from salesflow.bronze.landing_ingest import LandingIngestor
from salesflow.bronze.landing_tasks import keep_landing_records, received
from salesflow.bronze.oversized import PayloadLimit, by_reference
from salesflow.bronze.rows import RECEIVED
from salesflow.config import SparkConfig
from salesflow.engine.spark import SparkEngine
from salesflow.sources.landing import Segment

LIMIT = 40
LINE = st.one_of(
    st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")),  # any bytes: invalid UTF-8 too
    st.text(max_size=12).map(lambda t: t.replace("\n", "").encode()),  # valid, non-ASCII
    st.sampled_from([b"", b"\r", b'{"event_time":"2026-09-01T10:00:00Z"}', b"x" * (LIMIT + 1),
                     b"\xff" * LIMIT, "é".encode() * 21]),  # 42 bytes of valid text: over the limit
)
FILE = st.tuples(st.lists(LINE, max_size=8), st.booleans()).map(lambda f: b"\n".join(f[0]) + b"\n" * f[1])
RUNS = count()


@pytest.fixture(scope="module")
def engine(spark_session: object) -> SparkEngine:
    return SparkEngine(SparkConfig(master="local[2]", shuffle_partitions=2, keep_session=True),
                       session=spark_session)  # type: ignore[arg-type]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(files=[b"", b""], split_bytes=None, tagged=False)  # no line at all
@example(files=[b"\xff\n" * 9 + b"x" * 50], split_bytes=16, tagged=True)  # mended lines in many splits
@given(files=st.lists(FILE, min_size=1, max_size=4), split_bytes=st.sampled_from([None, 16]),
       tagged=st.booleans())
def test_the_executors_build_the_records_the_landing_runner_builds(
        engine: SparkEngine, tmp_path: Path, files: list[bytes], split_bytes: int | None, tagged: bool) -> None:
    """``split_bytes`` 16: every file is read in splits of 16 bytes, so most lines are numbered
    from the lines of the splits before theirs."""
    landing = tmp_path / f"run-{next(RUNS)}"
    landing.mkdir()
    segments = []
    for i, content in enumerate(files):
        segment = Segment(landing / f"{i:05d}-seg{'~collector' if tagged and i % 2 else ''}.jsonl")
        segment.path.write_bytes(content)
        os.utime(segment.path, (1_700_000_000 + i, 1_700_000_000.25 + i))
        segments.append(segment)
    limit = PayloadLimit(LIMIT, tmp_path / "oversized")
    want = received(by_reference(LandingIngestor._read(None, segments, 7), limit))  # type: ignore[arg-type]
    splits = "spark.sql.files.maxPartitionBytes"
    before = engine.spark.conf.get(splits)
    if split_bytes:
        engine.spark.conf.set(splits, str(split_bytes))
    try:
        n = keep_landing_records(engine, [(s.path.resolve().as_uri(), int(s.path.stat().st_mtime * 1_000_000))
                                          for s in segments], 7, limit)
        got = engine.query(f"SELECT {', '.join(RECEIVED.names)} FROM bronze_rows ORDER BY record_seq")  # noqa: S608 - our own names
    finally:
        engine.spark.conf.set(splits, before)
    assert n == want.num_rows
    assert got.cast(RECEIVED).to_pylist() == want.cast(RECEIVED).to_pylist()


def test_plain_lines_need_no_python_worker(engine: SparkEngine, tmp_path: Path) -> None:
    """Valid lines under the limit are records in the JVM: no stage of the read runs Python. The
    file's name has a space, a percent escape and glob characters: Spark reads that file (no
    other), and its records name it as the landing log does."""
    path = tmp_path / "00001 a%20b[1]{x}*~api.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n')
    (tmp_path / "00001 a%20b1xZ~api.jsonl").write_bytes(b'{"c":3}\n')  # what the name as a glob would match
    keep_landing_records(engine, [(path.resolve().as_uri(), 1)], 3, PayloadLimit(LIMIT, None))
    plan = engine.spark.table("bronze_rows")._jdf.queryExecution().executedPlan().toString()
    assert "Python" not in plan and "ArrowEval" not in plan, plan
    got = engine.query("SELECT source, source_file, source_position, record_seq FROM bronze_rows ORDER BY record_seq")
    assert [tuple(r.values()) for r in got.to_pylist()] == [
        ("api", path.name, f"{path.name}:1", 0), ("api", path.name, f"{path.name}:2", 1)]


def test_no_file_is_no_line(engine: SparkEngine) -> None:
    assert engine.keep_lines([], "no_lines").num_rows == 0
    assert engine.rows("no_lines") == 0
