"""Read a partner file (CSV, JSON Lines, Parquet) into columns of text, one row per record.

Every row keeps ``__line``, the line its record starts on (a quoted newline makes a record span
lines), so a rejected record can be found in the partner's file. A record that cannot be split
into the header's columns keeps its raw text and an ``__error``; Silver quarantines it with that
reason. A file whose header lacks a mapped column is refused whole, before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from salesflow.config.sources import FileSourceSpec
from salesflow.sources.file_access import FileRejected
from salesflow.sources.mapping import referenced_columns

MAX_NAME_CHARS = 64
MAX_NAMES_SHOWN = 50
"""A rejected file's message quotes its header only when it reads as column names."""


@dataclass(frozen=True)
class PartnerFile:
    path: Path
    sha256: str
    records: pa.Table
    """Partner columns as text, plus ``__line``, ``__error`` and ``__raw``."""


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_partner_file(path: Path, data: bytes, spec: FileSourceSpec) -> PartnerFile:
    """The records of a file's bytes (read with ``file_access.read_confined``)."""
    if spec.format == "parquet":
        records = _read_parquet(path, data, spec)
    else:
        text = _decode(path, data, spec)
        records = _read_jsonl(text) if spec.format == "jsonl" else _read_csv(path, text, spec)
    return PartnerFile(path, content_sha256(data), records)


def _decode(path: Path, data: bytes, spec: FileSourceSpec) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode(spec.encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(f"{path}: not valid {spec.encoding} at line {line} (byte {exc.start}); "
                           f"set the source's encoding") from None


def _check_header(path: Path, header: list[str], spec: FileSourceSpec) -> None:
    needed = referenced_columns(spec) | set(spec.columns or ())
    missing = sorted(needed - set(header))
    if missing:
        shown = _quoted_names(header) if needed & set(header) else f"of {len(header)} field(s), none mapped,"
        raise FileRejected(f"{path}: header {shown} lacks column(s) {missing}; nothing was loaded from this file")


def _quoted_names(header: list[str]) -> str:
    """The header as column names, never as raw bytes. A file none of whose fields the mapping
    names is not this source's table at all (a log, a key file, an environment dump): its first
    line is not quoted (see ``_check_header``), and fields that do not read as names are counted."""
    names = [h for h in header if len(h) <= MAX_NAME_CHARS and h.isprintable()]
    if len(names) == len(header) and len(names) <= MAX_NAMES_SHOWN:
        return str(names)
    return f"of {len(header)} field(s) ({len(header) - len(names)} not readable as column names)"



def _read_csv(path: Path, text: str, spec: FileSourceSpec) -> pa.Table:
    rows = _split_whitespace(text) if spec.delimiter == "whitespace" else _split_csv(text, spec)
    header: list[str]
    if spec.header:
        try:
            _, header = next(rows)
        except StopIteration:
            raise FileRejected(f"{path}: empty file, expected a header") from None
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise FileRejected(f"{path}: header {_quoted_names(header)} repeats a column name")
        _check_header(path, header, spec)
    elif spec.columns:
        header = list(spec.columns)
    else:
        raise FileRejected(f"{path}: the source has header: false and no columns list")
    fast = None if spec.delimiter == "whitespace" else _fast_csv(text, header, spec)
    return fast if fast is not None else _columns(header, rows, spec.delimiter)


def _fast_csv(text: str, header: list[str], spec: FileSourceSpec) -> pa.Table | None:
    """Arrow's C++ reader, used when every record is exactly one line (then line numbers follow).

    A quoted newline, a blank line inside the file or a record with the wrong number of fields
    breaks the one-to-one match; the exact Python reader then takes over.
    """
    data = text.encode()
    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=header, skip_rows=1 if spec.header else 0),
            parse_options=pcsv.ParseOptions(delimiter=spec.delimiter, quote_char=spec.quote),
            convert_options=pcsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None
    body = text.rstrip("\r\n \t")
    lines_in_file = body.count("\n") + 1 if body else 0
    first = 2 if spec.header else 1
    if table.num_rows != lines_in_file - (first - 1):
        return None
    n = table.num_rows
    return table.append_column("__line", pa.array(range(first, first + n), pa.int64())) \
        .append_column("__error", pa.nulls(n, pa.string())).append_column("__raw", pa.nulls(n, pa.string()))


def _split_csv(text: str, spec: FileSourceSpec) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter, quotechar=spec.quote,
                        strict=False)
    start = 1
    for row in reader:
        if row and any(field.strip() for field in row):
            yield start, row
        start = reader.line_num + 1


def _split_whitespace(text: str) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.split()


def _columns(header: list[str], rows: Iterable[tuple[int, list[str]]], delimiter: str) -> pa.Table:
    numbered = list(rows)
    width = len(header)
    good = [row for _, row in numbered if len(row) == width]
    # Transposing with zip is several times faster than appending field by field.
    columns = list(zip(*good, strict=True)) if good else [() for _ in header]
    lines = [line for line, _ in numbered]
    if len(good) == len(numbered):
        return _with_meta({name: pa.array(col, pa.string()) for name, col in zip(header, columns, strict=True)},
                          lines, [None] * len(lines), [None] * len(lines))
    # Some records do not split into the header's columns: keep them whole, in place, and say why.
    joiner = " " if delimiter == "whitespace" else delimiter
    take: list[int | None] = []
    errors: list[str | None] = []
    raws: list[str | None] = []
    kept = 0
    for _, row in numbered:
        ok = len(row) == width
        take.append(kept if ok else None)
        kept += ok
        errors.append(None if ok else f"malformed_row:expected_{width}_fields_got_{len(row)}")
        raws.append(None if ok else joiner.join(row))
    indices = pa.array(take, pa.int64())
    return _with_meta(
        {name: pa.array(col, pa.string()).take(indices) for name, col in zip(header, columns, strict=True)},
        lines,
        errors,
        raws,
    )


def _with_meta(columns: dict[str, pa.Array], lines: list[int], errors: list[str | None],
               raws: list[str | None]) -> pa.Table:
    return pa.table({**columns, "__line": pa.array(lines, pa.int64()), "__error": pa.array(errors, pa.string()),
                     "__raw": pa.array(raws, pa.string())})


def _read_jsonl(text: str) -> pa.Table:
    records: list[tuple[int, dict[str, Any] | None, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        records.append((number, value if isinstance(value, dict) else None, line))
    return records_table(records)


def records_table(records: list[tuple[int, dict[str, Any] | None, str]]) -> pa.Table:
    """(line, object or None, raw text) -> text columns; None objects get ``malformed_json``."""
    names: dict[str, None] = {}
    for _, obj, _ in records:
        if obj is not None:
            names.update(dict.fromkeys(obj))
    columns = {name: pa.array([_text(obj.get(name)) if obj is not None else None for _, obj, _ in records],
                              pa.string()) for name in names}
    errors = [None if obj is not None else "malformed_json" for _, obj, _ in records]
    raws = [None if obj is not None else raw for _, obj, raw in records]
    return _with_meta(columns, [line for line, _, _ in records], errors, raws)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return orjson.dumps(value).decode()


def _read_parquet(path: Path, data: bytes, spec: FileSourceSpec) -> pa.Table:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileRejected(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    _check_header(path, table.column_names, spec)
    n = table.num_rows
    return table.append_column("__line", pa.array(range(1, n + 1), pa.int64())) \
        .append_column("__error", pa.nulls(n, pa.string())).append_column("__raw", pa.nulls(n, pa.string()))
