"""The Python API, for notebooks and other tools: ``salesflow.connect()`` and one method per job.

Every method calls the same job the CLI calls (``salesflow.jobs``) with one ``RunContext``;
nothing here computes anything itself except turning Arrow results into the frame asked for:
``to="pandas"`` (default), ``"polars"`` or ``"arrow"``; money columns (DECIMAL) as ``float`` (default)
or ``Decimal``; dates stay dates.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from salesflow.context import RunContext
from salesflow.errors import ConfigError

Frame = Literal["pandas", "polars", "arrow"]
Money = Literal["float", "decimal"]


class Salesflow:
    """One data directory and config, as ``salesflow --data-dir D --config F`` would see them."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.forecast = Forecasts(ctx)
        self.warehouse = Warehouse(ctx)

    def __repr__(self) -> str:
        return f"Salesflow(data_dir={str(self.ctx.settings.data_dir)!r}, engine={self.ctx.settings.engine.name!r})"

    def simulate(self, events: int = 10_000, seed: int = 42, start: date = date(2026, 9, 1), days: int = 28,
                 clean: bool = False) -> Any:
        """Deterministic shop traffic into the landing log (``salesflow simulate``)."""
        from salesflow.jobs.simulate import simulate_to_landing
        from salesflow.simulator import DefectRates, SimulationSpec

        spec = SimulationSpec(events=events, seed=seed, start=start, days=days,
                              defects=DefectRates.none() if clean else DefectRates())
        return simulate_to_landing(self.ctx, spec)

    def batch(self) -> Any:
        """Everything new in the landing log through Bronze, Silver and Gold (``salesflow batch``)."""
        from salesflow.jobs.batch import run_batch

        return run_batch(self.ctx)

    def ingest_files(self, paths: list[str | Path], source: str, bronze_only: bool = False) -> Any:
        """Partner files through the mapping of ``files.<source>`` (``salesflow ingest-files``)."""
        from salesflow.jobs.sources import ingest_files

        return ingest_files(self.ctx, [Path(p) for p in paths], source, bronze_only)

    def poll(self, name: str, bronze_only: bool = False) -> Any:
        """New records from the partner API ``apis.<name>`` (``salesflow poll``)."""
        from salesflow.jobs.sources import poll_api

        return poll_api(self.ctx, name, bronze_only)

    def reconcile(self) -> Any:
        from salesflow.jobs.lake import reconcile

        return reconcile(self.ctx)

    def status(self, as_of: datetime | None = None, to: Frame = "pandas") -> Any:
        """Every table's version, rows, files, last update and lag (``salesflow status``)."""
        from salesflow.jobs.lake import lake_status

        rows = [vars(s) for s in lake_status(self.ctx, as_of)]
        return convert(pa.Table.from_pylist(rows), to, "float")

    def table(self, name: str, as_of: datetime | int | None = None, limit: int | None = None,
              to: Frame = "pandas", money: Money = "float") -> Any:
        """Rows of a lake table (``gold.daily_sales``), now, at a Delta version, or as of an instant."""
        from salesflow.jobs.lake import show_table

        version = as_of if isinstance(as_of, int) else None
        instant = as_of if isinstance(as_of, datetime) else None
        return convert(show_table(self.ctx, name, limit, version, instant).table, to, money)

    def queries(self) -> dict[str, str]:
        """The analytics queries by name, with the question each answers."""
        from salesflow.analytics import list_queries

        return {q.name: q.description for q in list_queries()}

    def query(self, name: str, *, to: Frame = "pandas", money: Money = "float", as_of: datetime | None = None,
              **params: Any) -> Any:
        """An analytics query on the warehouse (``salesflow query NAME --param k=v``); parameters
        may be given as Python values (ints, dates)."""
        from salesflow.jobs.warehouse import answer_query

        raw = {key: value.isoformat() if isinstance(value, date) else str(value) for key, value in params.items()}
        return convert(answer_query(self.ctx, name, raw, as_of), to, money)


class Warehouse:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def load(self, full: bool = False, date_from: date | None = None, date_to: date | None = None) -> Any:
        """Silver and Gold into the star schema (``salesflow warehouse load``)."""
        from salesflow.jobs.warehouse import load_warehouse

        return load_warehouse(self.ctx, full=full, date_from=date_from, date_to=date_to)


class Forecasts:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def evaluate(self, kinds: tuple[str, ...] | None = None) -> Any:
        from salesflow.jobs.forecast import KINDS, evaluate

        return evaluate(self.ctx, kinds or KINDS)

    def train(self, kinds: tuple[str, ...] | None = None, promote: str | None = "best") -> Any:
        from salesflow.jobs.forecast import KINDS, train

        return train(self.ctx, kinds or KINDS, promote)

    def predict(self, version: str | None = None) -> Any:
        from salesflow.jobs.forecast import predict

        return predict(self.ctx, version)


def connect(data_dir: str | Path | None = None, config: str | Path | None = None, **overrides: Any) -> Salesflow:
    """A handle on one salesflow installation: ``data_dir`` and ``config`` as the CLI's
    ``--data-dir`` and ``--config``; ``overrides`` as nested settings (``engine={"name": "spark"}``)."""
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    return Salesflow(RunContext.load(Path(config) if config is not None else None, **overrides))


def convert(table: pa.Table, to: Frame, money: Money) -> Any:
    """An Arrow result as the frame asked for, money as float or Decimal."""
    if money == "float":
        table = table.cast(pa.schema([pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f
                                      for f in table.schema]))
    if to == "arrow":
        return table
    if to == "pandas":
        return table.to_pandas()
    if to == "polars":
        try:
            import polars
        except ImportError:
            raise ConfigError("to='polars' needs polars: pip install polars") from None
        return polars.from_arrow(table)
    raise ConfigError(f"to={to!r}: use 'pandas', 'polars' or 'arrow'")
