"""What a batch's columns mean to the table it is written to: a column a newer salesflow adds, or a
write delta-rs refused for its schema."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable


def added_columns(table: DeltaTable | None, data: pa.Table) -> list[str]:
    """Columns a newer salesflow adds to a table an older one wrote (an optional contract field):
    the batch holds every column of the table and these besides, so the table's schema grows by
    them and older rows read them as null. Anything else (a column missing, a type changed) is
    left to the write to refuse."""
    if table is None:
        return []
    known = {f.name for f in table.schema().fields}
    if not known <= set(data.column_names):
        return []
    return [name for name in data.column_names if name not in known]


def is_schema_error(exc: Exception) -> bool:
    """delta-rs reports these generically, by message only."""
    return "Cast error" in str(exc) or "Schema error" in str(exc)
