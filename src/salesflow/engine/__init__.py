"""Engine adapters: run the project's SQL models on one engine. Chosen by ``engine.name``."""

from __future__ import annotations

from salesflow.config import Settings
from salesflow.engine.base import EngineAdapter
from salesflow.errors import ConfigError


def create_engine(settings: Settings) -> EngineAdapter:
    if settings.engine.name == "duckdb":
        from salesflow.engine.duckdb import DuckDBEngine

        return DuckDBEngine(threads=settings.engine.threads, memory_limit=settings.engine.memory_limit)
    if settings.engine.name == "spark":
        from salesflow.engine.spark import SparkEngine

        return SparkEngine(settings.spark, lake=settings.lake)
    raise ConfigError(f"engine.name = {settings.engine.name!r} is not an engine; use 'duckdb' or 'spark'")


__all__ = ["EngineAdapter", "create_engine"]
