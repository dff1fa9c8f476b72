"""Lines of a file as the landing log splits them: at each newline, a last line without one
counted, a trailing empty line not (the landing runner's reader and an engine's own line reader
keep to it)."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesflow.errors import CheckpointError


def line_array(data: bytes) -> pa.BinaryArray:
    """Lines of ``data`` without their newline (a trailing empty line is none) as an Arrow array:
    the newlines are dropped from one copy of the bytes and the offsets point at each line's
    start, so a 50,000-line segment costs one numpy pass and one copy. (``bytes.replace`` makes
    that copy at memchr speed; ``np.delete`` took twice as long through a mask as big as the data.)"""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 0x0A)
    ends = newlines - np.arange(len(newlines))  # where each line ends once the newlines are gone
    body = data.replace(b"\n", b"")
    if len(body) > (ends[-1] if len(ends) else 0):
        ends = np.append(ends, len(body))  # a last line without a newline is still a record
    if len(body) >= 2**31:  # Arrow's binary offsets are 32-bit
        raise CheckpointError(f"a landing segment of {len(body):,} bytes is over the 2 GiB segment limit")
    offsets = np.concatenate(([0], ends)).astype(np.int32)
    return pa.Array.from_buffers(pa.binary(), len(ends),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(body)])


def decode_lines(lines: pa.Array | list[bytes]) -> tuple[pa.Array | pa.ChunkedArray, pa.Array]:
    """UTF-8 text of each line. Invalid bytes become U+FFFD and the row is flagged (quarantined).

    Only lines holding a non-ASCII byte can be invalid, so only those are decoded one by one.
    The text keeps the lines' buffer: slices of it between the replaced lines, as one chunked
    array (replacing in place would copy every line of the batch to change a few)."""
    raw = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.binary())
    try:
        return raw.cast(pa.string()), pa.repeat(True, len(raw))
    except pa.ArrowInvalid:
        pass
    invalid = np.zeros(len(raw), dtype=bool)
    text = pc.cast(raw, options=pc.CastOptions(pa.string(), allow_invalid_utf8=True))
    pieces, start = [], 0
    for i in _non_ascii_rows(raw):
        line = raw[i].as_py()
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid[i] = True
            pieces += [text.slice(start, i - start), pa.array([line.decode("utf-8", errors="replace")], pa.string())]
            start = i + 1
    pieces.append(text.slice(start))
    return pa.chunked_array(pieces, pa.string()), pc.invert(pa.array(invalid))


def _non_ascii_rows(raw: pa.Array) -> np.ndarray:
    """Row numbers of the lines with a byte >= 0x80, found over the array's data buffer at once."""
    offsets_buffer, data_buffer = raw.buffers()[1:3]
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[raw.offset: raw.offset + len(raw) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    high = np.flatnonzero(data[offsets[0]: offsets[-1]] >= 0x80) + offsets[0]
    return np.unique(np.searchsorted(offsets, high, side="right") - 1)


def file_name(uri: str) -> str:
    """The name lines of a file are tagged with, from its URI or path (landing segment names are
    unique in the log)."""
    return PurePosixPath(unquote(urlparse(uri).path)).name
