"""Reference data from partner files: ``files.<name>.kind: products | customers | stores``.

Each file is read as an events file is (format, delimiter, encoding, the drop-folder checks) and
its mapped columns are checked against the contract's reference model: the key is required, the
contract's attributes are typed, any other mapped attribute is kept as text. The files of one run
are merged into the snapshot in one commit (a key in two files: the later file's values win). A
file with a row that breaks the contract (a key missing or repeated, a price that is not a number,
a row the reader could not split) is rejected whole with one line naming its file line; the other
files still load.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from salesflow.bronze.file_ingest import FileOutcome
from salesflow.config.sources import FieldSpec, FileSourceSpec
from salesflow.contract.reference import REFERENCE_KEYS, REFERENCE_MODELS
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.lake.delta import Lake
from salesflow.silver.reference import (
    ReferenceLoad,
    arrow_type,
    publish,
    published,
    reference_table,
    validation_message,
)
from salesflow.sources.file_access import FileNotSettled, FileRejected, drop_entries, read_confined
from salesflow.sources.files import parse_partner_file
from salesflow.sources.mapping import field_text, number_text, quote_ident, sql_string

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceFilesLoad:
    outcomes: list[FileOutcome]
    load: ReferenceLoad | None
    """None when no file was taken, or the same content was published before."""


def load_reference_files(lake: Lake, spec: FileSourceSpec, source: str, paths: list[Path]) -> ReferenceFilesLoad:
    kind, key = spec.kind, REFERENCE_KEYS[spec.kind]
    outcomes: list[FileOutcome] = []
    taken: list[tuple[Path, str, list[dict[str, Any]]]] = []
    for path in drop_entries(paths):
        try:
            data = read_confined(path, spec.follow_symlinks, spec.settle_seconds)
            partner = parse_partner_file(path, data, spec)
            taken.append((path, partner.sha256, _rows(path, partner.records, spec)))
        except FileRejected as exc:
            log.error("%s", exc)
            outcomes.append(FileOutcome(path, "rejected", message=str(exc)))
        except FileNotSettled as exc:
            outcomes.append(FileOutcome(path, "waiting", message=str(exc)))
    if not taken:
        return ReferenceFilesLoad(outcomes, None)
    fingerprint = hashlib.sha256(",".join(sha for _, sha, _ in taken).encode()).hexdigest()
    if published(lake, kind, f"file:{source}", fingerprint):
        skipped = [FileOutcome(path, "skipped", message=f"same content already in reference.{kind}")
                   for path, _, _ in taken]
        return ReferenceFilesLoad(outcomes + skipped, None)
    merged: dict[str, dict[str, Any]] = {}
    for _, _, rows in taken:
        for row in rows:
            merged[row[key]] = {**merged.get(row[key], {}), **{k: v for k, v in row.items() if v is not None}}
    load = publish(lake, kind, reference_table(kind, list(merged.values())), f"file:{source}", fingerprint)
    outcomes += [FileOutcome(path, "ingested", len(rows)) for path, _, rows in taken]
    log.info("reference.%s: %d row(s) from %d file(s) of %s, %d new key(s)", kind, load.rows, len(taken), source,
             load.new)
    return ReferenceFilesLoad(outcomes, load)


def _rows(path: Path, records: pa.Table, spec: FileSourceSpec) -> list[dict[str, Any]]:
    """The file's rows checked against the reference model, or FileRejected naming the first bad line."""
    model, key = REFERENCE_MODELS[spec.kind], REFERENCE_KEYS[spec.kind]
    engine = DuckDBEngine(threads=1)
    try:
        engine.register("partner_records", records)
        selected = ", ".join(f"{_value(spec, name, f)} AS {quote_ident(name)}" for name, f in spec.fields.items())
        mapped = engine.query(f"SELECT __line, __error, {selected} FROM partner_records ORDER BY __line",  # noqa: S608 - the mapping is the operator's SQL from config
                              f"reference mapping {path.name}").to_pylist()
    finally:
        engine.close()
    rows: list[dict[str, Any]] = []
    lines: dict[str, int] = {}
    for record in mapped:
        line, error = record.pop("__line"), record.pop("__error")
        if error is not None:
            raise FileRejected(f"{path.name}:{line}: {error}; the file was not loaded")
        try:
            row = model.model_validate({k: v for k, v in record.items() if v is not None}).model_dump()
        except ValidationError as exc:
            raise FileRejected(f"{path.name}:{line}: {validation_message(exc)}; the file was not loaded") from None
        if row[key] in lines:
            raise FileRejected(f"{path.name}:{line}: {key} {row[key]!r} is also on line {lines[row[key]]}; "
                               "the file was not loaded")
        lines[row[key]] = line
        rows.append(row)
    return rows


def _value(spec: FileSourceSpec, name: str, f: FieldSpec) -> str:
    """The field as text the reference model reads: numbers in SQL's notation (and scaled), dates
    of a given format as ISO dates; a value that does not convert stays as it came, so the model
    names it."""
    raw = field_text(f)
    model = REFERENCE_MODELS[spec.kind]
    kind = arrow_type(model, name) if name in model.model_fields else pa.string()
    if pa.types.is_decimal(kind):
        number = number_text(raw, spec)
        if f.scale is not None:
            number = f"CAST(round(TRY_CAST({number} AS DOUBLE) * {f.scale!r}, 2) AS VARCHAR)"
        return f"COALESCE({number}, {raw})"
    if pa.types.is_date32(kind) and f.format is not None:
        return f"COALESCE(strftime(TRY_STRPTIME({raw}, {sql_string(f.format)}), '%Y-%m-%d'), {raw})"
    return raw
