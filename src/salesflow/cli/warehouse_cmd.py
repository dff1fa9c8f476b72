"""``salesflow warehouse load|ddl`` and ``salesflow query``: the star schema and the questions
asked of it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.table import Table

from salesflow.analytics import list_queries
from salesflow.cli.output import console, handle_errors, render, to_json
from salesflow.cli.params import parse_as_of, parse_params, run_context
from salesflow.warehouse.schema import ddl, load_statements

if TYPE_CHECKING:  # the jobs load when a warehouse command runs, not for every command
    from salesflow.warehouse.load import LoadResult


@click.group()
def warehouse() -> None:
    """Load and describe the star-schema warehouse (DuckDB file, or PostgreSQL via warehouse.url)."""


@warehouse.command("load")
@click.option("--full", is_flag=True, help="Empty every warehouse table and rebuild from the lake.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Reload from this event date.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Reload up to this event date.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handle_errors
def warehouse_load(ctx: click.Context, full: bool, date_from: datetime | None, date_to: datetime | None,
                   as_json: bool) -> None:
    """Load new Silver/Gold data into the warehouse (incremental unless --full or a date range)."""
    if full and (date_from or date_to):
        raise click.UsageError("--full reloads everything; do not combine it with --from/--to")
    from salesflow.jobs.warehouse import load_warehouse

    result = load_warehouse(run_context(ctx), full=full, date_from=date_from.date() if date_from else None,
                            date_to=date_to.date() if date_to else None)
    print_load(result, as_json)


@warehouse.command("ddl")
@click.option("--dialect", type=click.Choice(["duckdb", "postgres", "redshift", "bigquery"]), default="postgres",
              show_default=True)
@click.option("--location", help="s3:// or gs:// prefix of Parquet exports: also print the load statements.")
@handle_errors
def warehouse_ddl(dialect: str, location: str | None) -> None:
    """Print the star schema (and bulk-load statements) for a warehouse dialect."""
    for statement in [*ddl(dialect), *(load_statements(dialect, location) if location else [])]:
        click.echo(statement + ";")


@click.command()
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Query parameter (repeatable).")
@click.option("--list", "show_list", is_flag=True, help="List the analytics queries and their parameters.")
@click.option("--as-of", "as_of", help="Answer from the lake as it was at this ISO timestamp (loads a scratch "
                                       "DuckDB warehouse from the time-travelled tables).")
@click.pass_context
@handle_errors
def query(ctx: click.Context, name: str | None, fmt: str, params: tuple[str, ...], show_list: bool,
          as_of: str | None) -> None:
    """Run an analytics query on the warehouse."""
    if show_list or not name:
        print_queries()
        return
    from salesflow.jobs.warehouse import answer_query

    click.echo(render(answer_query(run_context(ctx), name, parse_params(params), parse_as_of(as_of)), fmt, console))


def print_load(result: LoadResult, as_json: bool) -> None:
    if as_json:
        click.echo(to_json({**vars(result), "reconciled": result.reconciled}))
        return
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


def print_queries() -> None:
    listing = Table(title="Analytics queries")
    for column in ("name", "question", "parameters"):
        listing.add_column(column)
    for found in list_queries():
        listing.add_row(found.name, found.description,
                        ", ".join(f"{p.name} ({p.type.lower()}, default {p.default})" for p in found.params))
    console.print(listing)
