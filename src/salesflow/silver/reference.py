"""Reference data (products, customers, stores): validated, then published as whole snapshots.

A snapshot is rewritten only when its content changes (fingerprint kept in the commit), so an
unchanged reload is not a new table version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
from pydantic import ValidationError

from salesflow.contract.reference import REFERENCE_MODELS
from salesflow.errors import ContractError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import REFERENCE_TABLES
from salesflow.sources.landing import LandingLog

FINGERPRINT_KEY = "salesflow.fingerprint"


@dataclass(frozen=True)
class ReferenceLoad:
    name: str
    rows: int
    updated: bool


def load_reference(lake: Lake, landing: LandingLog) -> list[ReferenceLoad]:
    return [_load_one(lake, landing, name) for name in REFERENCE_TABLES if landing.reference_path(name).exists()]


def _load_one(lake: Lake, landing: LandingLog, name: str) -> ReferenceLoad:
    path = landing.reference_path(name)
    body = path.read_bytes()
    fingerprint = hashlib.sha256(body).hexdigest()
    spec = REFERENCE_TABLES[name]
    if lake.last_commit_metadata(spec).get(FINGERPRINT_KEY) == fingerprint:
        return ReferenceLoad(name, -1, updated=False)
    rows = _validate(name, path.name, body)
    lake.overwrite(spec, _to_arrow(rows), metadata={FINGERPRINT_KEY: fingerprint})
    return ReferenceLoad(name, len(rows), updated=True)


def _validate(name: str, filename: str, body: bytes) -> list[dict[str, object]]:
    model = REFERENCE_MODELS[name]
    rows = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate_json(line).model_dump())
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise ContractError(f"{filename}:{number}: {where}: {problem['msg']}") from None
    return rows


def _to_arrow(rows: list[dict[str, object]]) -> pa.Table:
    columns = {key: [row[key] for row in rows] for key in rows[0]} if rows else {}
    arrays = {k: pa.array(v, pa.decimal128(18, 2)) if isinstance(v[0], Decimal) else pa.array(v)
              for k, v in columns.items()}
    return pa.table(arrays)
