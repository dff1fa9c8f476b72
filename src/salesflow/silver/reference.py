"""Reference data (products, customers, stores): validated, then merged into whole snapshots.

A snapshot holds every key ever published, with the newest known value of each attribute: a
partner catalogue that gives only categories keeps the names another file gave, and a product
dropped from a later file stays a member (its facts still point at it). Each origin (the landing
log, a file source) is remembered by a fingerprint in the commit, so an unchanged reload is not a
new table version, and loads from different origins do not undo each other.
"""

from __future__ import annotations

import hashlib
import typing
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ValidationError

from salesflow.contract.reference import REFERENCE_KEYS, REFERENCE_MODELS
from salesflow.errors import ContractError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import REFERENCE_TABLES
from salesflow.sources.landing import LandingLog

FINGERPRINT_KEY = "salesflow.fingerprint"
"""Commit metadata: ``salesflow.fingerprint.<origin>`` per origin (the bare key: the landing log's,
as versions before file sources wrote it)."""


@dataclass(frozen=True)
class ReferenceLoad:
    name: str
    rows: int
    updated: bool
    origin: str = "landing"
    new: int = 0
    """Keys the snapshot did not hold before."""
    recategorised: tuple[str, ...] = field(default_factory=tuple)
    """Products whose category this load set or changed: Gold's categories of their days depend on it."""


def load_reference(lake: Lake, landing: LandingLog) -> list[ReferenceLoad]:
    return [_load_one(lake, landing, name) for name in REFERENCE_TABLES if landing.reference_path(name).exists()]


def _load_one(lake: Lake, landing: LandingLog, name: str) -> ReferenceLoad:
    path = landing.reference_path(name)
    body = path.read_bytes()
    fingerprint = hashlib.sha256(body).hexdigest()
    if published(lake, name, "landing", fingerprint):
        return ReferenceLoad(name, -1, updated=False)
    rows = _validate(name, path.name, body)
    return publish(lake, name, reference_table(name, rows), "landing", fingerprint)


def _validate(name: str, filename: str, body: bytes) -> list[dict[str, object]]:
    model = REFERENCE_MODELS[name]
    rows = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate_json(line).model_dump())
        except ValidationError as exc:
            raise ContractError(f"{filename}:{number}: {validation_message(exc)}") from None
    return rows


def validation_message(exc: ValidationError) -> str:
    problem = exc.errors()[0]
    return f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"


def published(lake: Lake, name: str, origin: str, fingerprint: str) -> bool:
    """Whether the snapshot's last commit already holds ``origin``'s content with this fingerprint."""
    meta = lake.last_commit_metadata(REFERENCE_TABLES[name])
    legacy = meta.get(FINGERPRINT_KEY) if origin == "landing" else None
    return fingerprint in (meta.get(f"{FINGERPRINT_KEY}.{origin}"), legacy)


def publish(lake: Lake, name: str, rows: pa.Table, origin: str, fingerprint: str) -> ReferenceLoad:
    """Merge ``rows`` (one per key, in ``reference_table``'s shape) into the snapshot in one commit."""
    spec, key = REFERENCE_TABLES[name], REFERENCE_KEYS[name]
    meta = lake.last_commit_metadata(spec)
    carried = {k: str(v) for k, v in meta.items() if k.startswith(f"{FINGERPRINT_KEY}.")}
    if FINGERPRINT_KEY in meta:  # the landing log's, from before origins were told apart
        carried.setdefault(f"{FINGERPRINT_KEY}.landing", str(meta[FINGERPRINT_KEY]))
    old = lake.read(spec)
    merged, new, recategorised = _merge(old, rows, key, name == "products")
    lake.overwrite(spec, merged, metadata={**carried, f"{FINGERPRINT_KEY}.{origin}": fingerprint})
    return ReferenceLoad(name, rows.num_rows, True, origin, new, recategorised)


def _merge(old: pa.Table | None, rows: pa.Table, key: str, products: bool) -> tuple[pa.Table, int, tuple[str, ...]]:
    """The snapshot with ``rows`` merged in by key: a value the rows give wins, a value they lack
    (null, or a column they do not have) keeps the snapshot's."""
    if old is None or old.num_rows == 0:
        categories = rows["category"] if products else None
        found = () if categories is None else tuple(rows.filter(pc.is_valid(categories))[key].to_pylist())
        return rows, rows.num_rows, tuple(sorted(found))
    joined = rows.join(old, keys=key, join_type="full outer", left_suffix="", right_suffix="__old")
    columns: dict[str, pa.ChunkedArray] = {key: joined[key]}
    for name in dict.fromkeys(rows.column_names + old.column_names):
        if name == key:
            continue
        if name in rows.column_names and name in old.column_names:
            columns[name] = pc.coalesce(joined[name], joined[f"{name}__old"].cast(joined[name].type))
        else:
            columns[name] = joined[name]
    merged = pa.table(columns)
    new = rows.num_rows - pc.sum(pc.is_in(rows[key], old[key])).as_py()
    recategorised: tuple[str, ...] = ()
    if products and "category" in rows.column_names:
        before = joined["category__old"] if "category" in old.column_names else pa.nulls(joined.num_rows, pa.string())
        moved = pc.and_(pc.is_valid(joined["category"]),
                        pc.fill_null(pc.not_equal(joined["category"], before), True))
        recategorised = tuple(sorted(joined.filter(moved)[key].to_pylist()))
    return merged, int(new), recategorised


def reference_table(name: str, rows: list[dict[str, object]]) -> pa.Table:
    """Rows as the snapshot's columns: the contract's attributes typed (every one, null where a
    source lacks it), then any other attribute as text."""
    model = REFERENCE_MODELS[name]
    columns = {column: pa.array([row.get(column) for row in rows], arrow_type(model, column))
               for column in model.model_fields}
    extras = sorted({k for row in rows for k in row} - set(model.model_fields))
    for column in extras:
        columns[column] = pa.array([_text(row.get(column)) for row in rows], pa.string())
    return pa.table(columns)


def arrow_type(model: type[BaseModel], column: str) -> pa.DataType:
    kinds = set(_flat(model.model_fields[column].annotation))
    if Decimal in kinds:
        return pa.decimal128(18, 2)
    if date in kinds:
        return pa.date32()
    return pa.string()


def _flat(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for arg in args for t in _flat(arg)]


def _text(value: object) -> str | None:
    return None if value is None else str(value)
