"""``salesflow quality report``: the latest run's gate results as a table or JSON."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from salesflow.cli.output import console, handle_errors, to_json
from salesflow.cli.params import run_context


@click.group()
def quality() -> None:
    """Data-quality gate results."""


@quality.command("report")
@click.option("--run", "run_id", help="A run id (default: each layer's latest run).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
@handle_errors
def quality_report(ctx: click.Context, run_id: str | None, as_json: bool) -> None:
    """Show each layer's latest checks: rule, action, violations and sample rows. Exit 1 on a blocking failure."""
    from salesflow.jobs.lake import quality_results

    sys.exit(print_report(quality_results(run_context(ctx), run_id), as_json))


def print_report(rows: list[dict[str, Any]], as_json: bool) -> int:
    """The exit code: 1 when a blocking rule failed."""
    if as_json:
        click.echo(to_json(_summary(rows)))
        return 1 if any(r["action"] == "fail" and not r["passed"] for r in rows) else 0
    if not rows:
        console.print("No quality results yet: run `salesflow batch` first.")
        return 0
    merged = _merged(rows)
    console.print(_table(merged, sorted({r["run_id"] for r in rows})))
    failures = [r for r in rows if not r["passed"] and r["action"] in ("fail", "warn", "quarantine")
                and r["kind"] not in ("contract", "dedupe")]
    for row in failures:
        console.print(f"[bold]{row['layer']}.{row['table_name']} {row['rule']}[/] ({row['action']}, "
                      f"{row['violating_rows']:,} rows) in {row['partition']}:", highlight=False)
        for sample in row["sample"]:
            console.print(f"    {sample}", highlight=False)
    blocking = [r for r in merged if r["action"] == "fail" and not r["passed"]]
    colour = "red" if blocking else "green"
    # Counted over the table's lines (one per rule), so the sentence and the table agree.
    console.print(f"[{colour}]{len(blocking)} blocking rule(s) failed, {sum(not r['passed'] for r in merged)} of "
                  f"{len(merged)} rules with violations ({len(rows)} checks)[/]")
    if any(r["kind"] == "freshness" and not r["passed"] for r in merged):
        console.print("[dim]freshness compares the newest event with the wall clock: a historical load (like the "
                      "demo's) fails it by design; on a live feed it means events stopped arriving.[/]")
    return 1 if blocking else 0


VERDICTS = {"fail": "[red]FAIL[/]", "quarantine": "[yellow]quarantined[/]", "drop": "[yellow]set aside[/]",
            "warn": "[yellow]violations[/]"}


def _merged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (layer, table, rule) across the run's batches."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["layer"], row["table_name"], row["rule"])
        entry = merged.setdefault(key, {**row, "violating_rows": 0, "passed": True, "checks": 0, "duration_ms": 0.0})
        entry["violating_rows"] += row["violating_rows"]
        entry["passed"] = entry["passed"] and row["passed"]
        entry["checks"] += 1
        entry["duration_ms"] += row["duration_ms"]
    return list(merged.values())


def _table(rows: list[dict[str, Any]], run_ids: list[str]) -> Table:
    table = Table(title=f"Quality results of run {run_ids[0]}" if len(run_ids) == 1 else
                  f"Latest quality results per layer (runs {', '.join(run_ids)})")
    for column in ("layer", "table", "rule", "action", "result", "violating rows", "checks", "ms"):
        table.add_column(column, justify="right" if column in ("violating rows", "checks", "ms") else "left")
    for row in rows:
        verdict = "[green]pass[/]" if row["passed"] else VERDICTS.get(row["action"], "[yellow]violations[/]")
        table.add_row(row["layer"], row["table_name"], row["rule"], row["action"], verdict,
                      f"{row['violating_rows']:,}", str(row["checks"]), f"{row['duration_ms']:.0f}")
    return table


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run_id": rows[0]["run_id"] if rows else None,
        "run_ids": sorted({r["run_id"] for r in rows}),
        "rules": _merged(rows),
        "blocking_failures": [r for r in rows if r["action"] == "fail" and not r["passed"]],
    }
