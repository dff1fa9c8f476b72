"""The engine contract: register Arrow inputs under logical names, run SQL models, return Arrow.

Models refer only to logical relation names (``bronze_batch``, ``silver_order_lines`` ...), never
to paths, so the same model text runs on any adapter that can register those names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import pyarrow as pa
import pyarrow.dataset as ds

from salesflow.errors import ModelError
from salesflow.models import Model


class EngineAdapter(ABC):
    DIALECT: ClassVar[str]
    """SQLGlot dialect name of the engine's SQL."""
    SUPPORTS_ARROW_SCAN: ClassVar[bool] = False
    """Can scan Arrow datasets in place (no copy)."""

    @abstractmethod
    def register(self, name: str, data: pa.Table | ds.Dataset) -> None:
        """Expose Arrow data as a relation called ``name``."""

    @abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run SQL and return the result as an Arrow table."""

    @abstractmethod
    def materialize(self, name: str, sql: str) -> None:
        """Run SQL once and keep the result as relation ``name`` for later models."""

    @abstractmethod
    def close(self) -> None: ...

    def translate(self, model: Model, sql: str) -> str:
        """Adapt model text to this engine; the DuckDB dialect is the source of truth."""
        return sql

    def run(self, model: Model, **params: object) -> pa.Table:
        sql = self.translate(model, model.render(**params))
        try:
            return self.query(sql)
        except Exception as exc:  # engine errors are many types; keep the model name on them
            raise ModelError(f"model {model.name} failed on {self.DIALECT}: {exc}") from exc

    def run_into(self, name: str, model: Model, **params: object) -> None:
        sql = self.translate(model, model.render(**params))
        try:
            self.materialize(name, sql)
        except Exception as exc:
            raise ModelError(f"model {model.name} failed on {self.DIALECT}: {exc}") from exc

    def __enter__(self) -> EngineAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
