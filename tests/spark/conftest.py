"""Spark tests share one local SparkSession (JVM start-up is ~10 s) and skip nothing: pyspark and
Java 17 are part of the test environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from salesflow.config import Settings, load_settings


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    from salesflow.config import SparkConfig
    from salesflow.engine.spark import spark_session as start

    session = start(SparkConfig(master="local[2]", shuffle_partitions=2))
    yield session
    session.stop()


def engine_settings(base: Path, engine: str) -> Settings:
    """Settings for one engine's own data directory; Spark keeps the shared session open."""
    return load_settings(data_dir=base / engine, engine={"name": engine},
                         spark={"master": "local[2]", "shuffle_partitions": 2, "keep_session": True})
