"""Records too large to be events, kept in Bronze by reference.

A 100 MB line stored as it came made a 200 MB Delta log entry and a Parquet footer no reader
would open again (``status`` and ``show`` crashed from then on). Such a record can never become
an event (Silver quarantines anything over ``pipeline.max_payload_bytes``), so Bronze keeps a
small JSON document in its place: the record's length, SHA-256 and first characters, and where
its full bytes are when ``pipeline.keep_oversized_payloads`` is on. ``ingest_error`` says
``payload_too_large``, so the row reaches the quarantine with that reason whatever the
reference document looks like; counts and positions are those of the original record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesflow.common.files import atomic_write
from salesflow.config import Settings

PREFIX_CHARS = 512
REASON = "payload_too_large"


@dataclass(frozen=True)
class PayloadLimit:
    max_bytes: int = 1_048_576
    keep_dir: Path | None = None
    """Where the full bytes of oversized records go, one ``<sha256>.bin`` file each; None: dropped."""


def payload_limit(settings: Settings) -> PayloadLimit:
    pipeline = settings.pipeline
    keep = settings.data_dir / "oversized" if pipeline.keep_oversized_payloads else None
    return PayloadLimit(pipeline.max_payload_bytes, keep)


def by_reference(records: pa.Table, limit: PayloadLimit) -> pa.Table:
    """``records`` with every payload over the limit replaced by its reference document and its
    ``ingest_error`` set (an error the source already found stays: it came first)."""
    payload = records["payload"]
    over = pc.greater(pc.binary_length(payload), limit.max_bytes)
    if not pc.any(over).as_py():
        return records
    rows = np.flatnonzero(over.to_numpy(zero_copy_only=False))
    references = [_reference(payload[int(i)].as_py(), limit.keep_dir) for i in rows]
    mask = pa.array(np.isin(np.arange(records.num_rows), rows))
    replaced = pc.replace_with_mask(payload.combine_chunks(), mask, pa.array(references, pa.string()))
    errors = (records["ingest_error"].combine_chunks() if "ingest_error" in records.column_names
              else pa.nulls(records.num_rows, pa.string()))
    errors = pc.if_else(pc.and_(mask, pc.is_null(errors)), pa.scalar(REASON), errors)
    records = records.set_column(records.column_names.index("payload"), "payload", replaced)
    if "ingest_error" in records.column_names:
        return records.set_column(records.column_names.index("ingest_error"), "ingest_error", errors)
    return records.append_column("ingest_error", errors)


def _reference(text: str, keep_dir: Path | None) -> str:
    data = text.encode()
    digest = hashlib.sha256(data).hexdigest()
    kept = None
    if keep_dir is not None:
        kept = keep_dir / f"{digest}.bin"
        if not kept.exists():  # content-addressed: the same record twice is one file
            atomic_write(kept, data)
    return json.dumps({"oversized_payload": {
        "bytes": len(data), "sha256": digest, "prefix": text[:PREFIX_CHARS],
        "kept_at": str(kept) if kept else None}}, ensure_ascii=False)
