"""Splitting landing segments into Arrow lines, and decoding them, agree with the plain Python way."""

from __future__ import annotations

import random

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
