"""Warehouse targets: where the star schema lives. DuckDB file by default, PostgreSQL by URL."""

from __future__ import annotations

from salesflow.config import Settings
from salesflow.warehouse.targets.base import WarehouseTarget


def connect(settings: Settings) -> WarehouseTarget:
    url = settings.warehouse.url
    if url is not None:
        from salesflow.warehouse.targets.postgres import PostgresTarget

        return PostgresTarget(url.get_secret_value())
    from salesflow.warehouse.targets.duckdb import DuckDBTarget

    return DuckDBTarget(settings.warehouse_path)


__all__ = ["WarehouseTarget", "connect"]
