"""Everything the CLI prints: consoles, the error wrapper, facts, tables, progress bars.

Commands call one job and hand its result to a helper here (or to the output helpers of their
own ``*_cmd`` module), so no command draws anything inline.
"""

from __future__ import annotations

import csv
import functools
import io
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from salesflow.common.storage_errors import storage_failure
from salesflow.errors import INTERRUPTED, INTERRUPTED_LINE, ConfigError, SalesflowError, exception_chain
from salesflow.redact import redact

if TYPE_CHECKING:  # annotations only: importing the lake here would load it for `--help` too
    from salesflow.gold.status import TableStatus
    from salesflow.lake.log import Head
    from salesflow.pipeline.reconcile import Reconciliation

F = TypeVar("F", bound=Callable[..., Any])
console = Console()
if not console.is_terminal:  # piped or captured: tables are not squeezed into 80 columns
    console = Console(width=160)
err_console = Console(stderr=True)


def handle_errors(func: F) -> F:
    """Project errors become one red line on stderr and the error's exit code; no traceback, and
    no class name: the message says what happened and what to do."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.secho(redact(f"salesflow: {exc}"), err=True, fg="red")  # one line, never wrapped
            sys.exit(exc.exit_code)
        except (Exception, KeyboardInterrupt) as exc:
            if interrupted(exc):
                say_interrupted()
            refused = storage_failure(exc)  # infrastructure: the path and the cause, no traceback
            if refused is not None:
                click.secho(redact(f"salesflow: {refused}"), err=True, fg="red")
                sys.exit(1)
            if isinstance(exc, SalesflowError):
                click.secho(redact(f"salesflow: {exc}"), err=True, fg="red")
                sys.exit(exc.exit_code)
            raise

    return wrapper  # type: ignore[return-value]


def interrupted(exc: BaseException) -> bool:
    """Ctrl-C: a KeyboardInterrupt, or DuckDB's query interrupted by it (DuckDB takes the signal
    and raises ``RuntimeError("Query interrupted")`` from inside a model, which would otherwise
    read as a failed model)."""
    for found in exception_chain(exc):
        if isinstance(found, KeyboardInterrupt) or type(found).__name__ == "InterruptException":
            return True
        if isinstance(found, RuntimeError) and str(found).startswith("Query interrupted"):
            return True
        if type(found).__module__.lstrip("_").startswith("duckdb") and "KeyboardInterrupt" in str(found):
            return True  # raised in DuckDB's callback into Python (an Arrow scan), wrapped as its error
    return False


def say_interrupted() -> None:
    """One line and exit 130. Every write is one atomic commit (Delta, a renamed file), so an
    interrupted command leaves what it committed and nothing half-written."""
    click.secho(INTERRUPTED_LINE, err=True, fg="yellow")
    sys.exit(INTERRUPTED)


def to_json(value: Any) -> str:
    """JSON as a reader of numbers expects it: money (Decimal) as an exact number, not a string;
    dates as ISO text; NumPy scalars as numbers."""
    return orjson.dumps(value, default=_json_value,
                        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else str(value)
    if hasattr(value, "item"):  # a NumPy or Arrow scalar orjson does not know
        return value.item()
    return str(value)


def print_facts(facts: dict[str, Any], as_json: bool) -> None:
    """Plain JSON for machines, highlighted JSON for people."""
    if as_json:
        click.echo(to_json(facts))
    else:
        console.print_json(to_json(facts))


def print_line(text: str) -> None:
    console.print(text, highlight=False)


def progress_bars(disable: bool) -> Progress:
    return Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("records"), TimeElapsedColumn(), console=err_console, disable=disable)


class StagedProgress:
    """A bar per stage that appears the first time the stage reports: ``(stage, done, total)``."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done)


def print_status(rows: list[TableStatus], title: str, as_json: bool) -> None:
    if as_json:
        click.echo(to_json([vars(r) for r in rows]))
        return
    table = Table(title=title)
    for column in ("table", "version", "rows", "files", "last update (UTC)", "lag (batches)"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for row in rows:
        version = "-" if row.version is None else str(row.version)
        updated = row.last_update.strftime("%Y-%m-%d %H:%M:%S") if row.last_update else "-"
        lag = "" if row.lag_batches is None else str(row.lag_batches)
        table.add_row(row.table, version, f"{row.rows:,}", str(row.files), updated, lag)
    console.print(table)


def print_head(name: str, found: Head, fmt: str) -> None:
    err_console.print(f"{name} version {found.version}: {found.rows:,} rows")
    click.echo(render(found.table, fmt, console))


def print_reconciliation(rec: Reconciliation) -> int:
    """The reconciliation as JSON; the exit code (1 when it does not balance)."""
    facts = {k: v for k, v in vars(rec).items() if v is not None and v != []}
    if rec.silver_batch is not None:
        facts["gold_lag_batches"] = rec.gold_lag_batches
    console.print_json(data={**facts, "balanced": rec.balanced}, default=str)
    return 0 if rec.balanced else 1


def status_title(lake_root: str, as_of: datetime | None) -> str:
    return f"Lake at {lake_root}" + (f" as of {as_of.isoformat()}" if as_of else "")


def render(result: pa.Table, fmt: str, console: Console) -> str:
    rows = result.to_pylist()
    if fmt == "json":
        return to_json(rows)
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
