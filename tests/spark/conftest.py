"""Spark tests share one local SparkSession (JVM start-up is ~10 s) and skip nothing: pyspark and
Java 17 are part of the test environment."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from salesflow.config import Settings, load_settings
from salesflow.lake.delta import Lake
from salesflow.lake.tables import TableSpec

VOLATILE = {"ingested_at", "updated_at"}  # wall-clock stamps of the run itself


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    from salesflow.config import SparkConfig
    from salesflow.engine.spark import spark_session as start

    session = start(SparkConfig(master="local[2]", shuffle_partitions=2))
    yield session
    session.stop()


def engine_settings(base: Path, engine: str, **overrides: Any) -> Settings:
    """Settings for one engine's own data directory; Spark keeps the shared session open."""
    spark = {"master": "local[2]", "shuffle_partitions": 2, "keep_session": True, **overrides.pop("spark", {})}
    return load_settings(data_dir=base / engine, engine={"name": engine}, spark=spark, **overrides)


def table_rows(settings: Settings, spec: TableSpec) -> list[dict[str, Any]]:
    table = Lake(settings.lake_root).read(spec)
    assert table is not None, f"{spec.qualified} was not written"
    rows = [{k: v for k, v in row.items() if k not in VOLATILE} for row in table.to_pylist()]
    return sorted(rows, key=lambda r: [(v is None, str(v)) for v in r.values()])


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b

