"""``salesflow warehouse`` and ``salesflow query``."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from salesflow.analytics import list_queries, run_query
from salesflow.config import Settings, WarehouseConfig
from salesflow.errors import ParameterError
from salesflow.lake.storage import open_lake
from salesflow.warehouse.load import LoadResult
from salesflow.warehouse.run import load_warehouse
from salesflow.warehouse.schema import DIALECTS, ddl, load_statements
from salesflow.warehouse.targets import connect


def print_load(console: Console, result: LoadResult) -> None:
    table = Table(title=f"Warehouse {result.mode} load into {result.target} in {result.seconds:.2f} s")
    table.add_column("table")
    table.add_column("staged this load", justify="right")
    table.add_column("rows in warehouse", justify="right")
    for name, total in result.totals.items():
        table.add_row(name, f"{result.staged.get(name, 0):,}", f"{total:,}")
    console.print(table)
    colour = "green" if result.reconciled else "yellow"
    console.print(f"[{colour}]silver order lines {result.silver_lines:,} -> fact_sales "
                  f"{result.totals.get('fact_sales', 0):,}: {'reconciled' if result.reconciled else 'differs'}[/]")


def do_load(console: Console, settings: Settings, full: bool, date_from: datetime | None,
            date_to: datetime | None, as_json: bool) -> LoadResult:
    result = load_warehouse(settings, full=full, date_from=date_from.date() if date_from else None,
                            date_to=date_to.date() if date_to else None)
    if as_json:
        click.echo(json.dumps({**vars(result), "reconciled": result.reconciled}, indent=2))
    else:
        print_load(console, result)
    return result


def print_ddl(dialect: str, location: str | None) -> None:
    for statement in ddl(dialect):
        click.echo(statement + ";")
    if location:
        for statement in load_statements(dialect, location):
            click.echo(statement + ";")


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParameterError(f"--param {pair!r}: expected NAME=VALUE")
        out[key] = value
    return out


def do_query(console: Console, settings: Settings, name: str | None, fmt: str, params: tuple[str, ...],
             show_list: bool, as_of: datetime | None = None) -> None:
    if show_list or not name:
        listing = Table(title="Analytics queries")
        for column in ("name", "question", "parameters"):
            listing.add_column(column)
        for query in list_queries():
            listing.add_row(query.name, query.description,
                            ", ".join(f"{p.name} ({p.type.lower()}, default {p.default})" for p in query.params))
        console.print(listing)
        return
    if as_of is not None:
        result = _query_as_of(settings, name, parse_params(params), as_of)
    else:
        with connect(settings) as target:
            result = run_query(target, name, parse_params(params))
    click.echo(render(result, fmt, console))


def _query_as_of(settings: Settings, name: str, params: dict[str, str], as_of: datetime) -> pa.Table:
    """The query on a throwaway DuckDB warehouse loaded from the lake as it was at ``as_of``."""
    import tempfile

    from salesflow.warehouse.run import load_warehouse

    with tempfile.TemporaryDirectory(prefix="salesflow-as-of-") as scratch:
        pinned = settings.model_copy(update={"warehouse": WarehouseConfig(path=f"{scratch}/as_of.duckdb")})
        load_warehouse(pinned, full=True, lake=open_lake(settings, as_of=as_of))
        with connect(pinned) as target:
            return run_query(target, name, params)


def render(result: pa.Table, fmt: str, console: Console) -> str:
    rows = result.to_pylist()
    if fmt == "json":
        return json.dumps(rows, default=_plain, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=result.column_names)
        writer.writeheader()
        writer.writerows({k: _plain(v) if v is not None else "" for k, v in r.items()} for r in rows)
        return buffer.getvalue().rstrip("\n")
    table = Table(show_lines=False)
    for column in result.column_names:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    with console.capture() as capture:
        console.print(table)
    return capture.get().rstrip("\n")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(_plain(value))


__all__ = ["DIALECTS", "do_load", "do_query", "print_ddl"]
