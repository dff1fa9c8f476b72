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
    def query(self, sql: str, source: str = "query") -> pa.Table:
        """Run SQL (DuckDB dialect) and return the result as an Arrow table; ``source`` names the
        model or check the SQL came from, for error messages."""

    @abstractmethod
    def materialize(self, name: str, sql: str, source: str = "query") -> None:
        """Run SQL once and keep the result as relation ``name`` for later models."""

    @abstractmethod
    def close(self) -> None: ...

    def for_thread(self) -> EngineAdapter | None:
        """An engine another thread can run models on while this one runs its own, or None when
        the adapter cannot offer one (work then stays on the calling thread)."""
        return None

    def run(self, model: Model, **params: object) -> pa.Table:
        sql = model.render(**params)
        try:
            return self.query(sql, model.name)
        except ModelError:
            raise
        except Exception as exc:  # engine errors are many types; keep the model name on them
            raise ModelError(f"model {model.name} failed on {self.DIALECT}: {exc}") from exc

    def define(self, name: str, sql: str, source: str = "query") -> None:
        """Keep SQL as relation ``name`` that later models may read in part: an engine that can
        plan through a view (and push their projections and filters into it) makes one; this
        default materializes it."""
        self.materialize(name, sql, source)

    def run_into(self, name: str, model: Model, view: bool = False, **params: object) -> None:
        sql = model.render(**params)
        try:
            (self.define if view else self.materialize)(name, sql, model.name)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"model {model.name} failed on {self.DIALECT}: {exc}") from exc

    def __enter__(self) -> EngineAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
