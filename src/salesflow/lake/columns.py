"""What a batch's columns mean to the table it is written to: a column a newer salesflow adds, a
write delta-rs refused for its schema, and the Parquet settings each column is written with."""

from __future__ import annotations

import pyarrow as pa
from deltalake import ColumnProperties, DeltaTable, WriterProperties

from salesflow.lake.tables import TableSpec


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


STATS_TRUNCATE_CHARS = 64
"""Longest string min/max kept in a file's statistics. Untruncated, one hostile 100 MB value put
200 MB into a Delta log entry and a Parquet footer over every reader's thrift limit; a truncated
max is rounded up, so pruning stays correct."""


def writer_properties(spec: TableSpec) -> WriterProperties:
    """Parquet settings of a table's files: delta-rs's defaults (Snappy, dictionaries, statistics)
    except for the table's unique columns, whose dictionary would be built and then abandoned and
    whose min/max nothing prunes on (a quarter of writing a Bronze batch went to the payload's)."""
    plain = ColumnProperties(dictionary_enabled=False, statistics_enabled="NONE")
    return WriterProperties(compression="SNAPPY", statistics_truncate_length=STATS_TRUNCATE_CHARS,
                            column_properties={c: plain for c in spec.unique} or None)
