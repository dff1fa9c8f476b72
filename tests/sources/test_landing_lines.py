"""Splitting landing segments into Arrow lines, and decoding them, agree with the plain Python way."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from salesflow.bronze.ingest import decode_lines
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


def test_read_ahead_is_used_only_when_it_matches_the_plan(tmp_path: Path) -> None:
    """While a batch goes downstream the next one's segments are read ahead; the read is used
    only for the very segments and batch id the next plan names, else thrown away and redone."""
    from concurrent.futures import Future

    import pyarrow as pa

    from salesflow.config import load_settings
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.lake.delta import Lake
    from salesflow.pipeline.batch import Runner
    from salesflow.simulator import SimulationSpec
    from tests.conftest import land

    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 20_000})
    land(settings, SimulationSpec(events=600, seed=2), per_segment=100)
    bronze = Runner(settings, Lake(settings.lake_root), DuckDBEngine(), lambda stage, n: None).bronze
    batches = bronze.batches()
    first = next(batches)
    ahead = bronze._ahead  # type: ignore[attr-defined]
    assert ahead is not None and ahead[1] == first.batch_id + 1
    second = next(batches)  # the guess was right: its rows are the batch's
    assert second.batch_id == ahead[1] and second.table is not None
    assert second.table["source_position"].equals(ahead[2].result()["source_position"])
    names, batch_id, _ = bronze._ahead  # type: ignore[attr-defined]
    wrong: Future[pa.Table] = Future()
    wrong.set_result(pa.table({"nonsense": [1]}))
    bronze._ahead = (names, batch_id + 7, wrong)  # type: ignore[attr-defined]  # a guess the plan won't match
    third = next(batches)
    assert third.table is not None and third.rows > 0 and set(third.table["batch_id"].to_pylist()) == {third.batch_id}
    assert third.table.column_names[0] == "payload"
