"""Rich rendering of pipeline results for people; ``--json`` gives the same facts for machines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from salesflow.common.parts import seconds_by_part
from salesflow.silver.quarantine_rate import money_quarantined

if TYPE_CHECKING:
    from salesflow.pipeline.runner import BatchRun


def batch_facts(run: BatchRun, sample: dict[str, Any] | None) -> dict[str, Any]:
    rec = run.reconciliation
    return {
        "run_id": run.run_id,
        "batches": run.batches,
        "seconds": round(run.seconds, 2),
        "this_run": {
            "bronze_rows": run.total("bronze_rows"),
            "silver_events": run.total("silver_events"),
            "order_lines": run.total("order_lines"),
            "quarantined": run.total("quarantined_total"),
            "duplicates_removed": run.total("duplicates"),
            "late_events": run.total("late"),
            "quarantined_by_reason": run.quarantined_by_reason,
            "quarantined_share": _shares(run),
            "schema_drift": run.schema_drift,
            "gold_rows_written": dict(run.gold_rows),
        },
        "lake": None if rec is None else {
            "bronze": rec.bronze, "silver_events": rec.silver_events, "quarantined": rec.quarantined,
            "duplicates": rec.duplicates, "balanced": rec.balanced,
        },
        "sample_gold_record": sample,
        "seconds_by_part": seconds_by_part(),
    }


def _shares(run: BatchRun) -> dict[str, Any]:
    """What share of the run's records, and of its order money, went to quarantine."""
    records, quarantined = run.total("bronze_rows"), run.total("quarantined_total")
    money = run.money
    total, held = money_quarantined(money)
    return {"records": round(quarantined / records, 4) if records else 0.0,
            "money": round(float(held / total), 4) if total else 0.0, "money_quarantined": held, "money_total": total}


def print_batch(console: Console, facts: dict[str, Any]) -> None:
    this, lake = facts["this_run"], facts["lake"]
    if not facts["batches"]:
        console.print("[bold]Nothing new[/] in the landing log: every table is unchanged.")
    layers = Table(title=f"Run {facts['run_id']}: {len(facts['batches'])} batch(es) in {facts['seconds']} s")
    for column in ("layer", "this run", "whole lake"):
        layers.add_column(column, justify="right" if column != "layer" else "left")
    layers.add_row("bronze records", f"{this['bronze_rows']:,}", f"{lake['bronze']:,}")
    layers.add_row("silver events", f"{this['silver_events']:,}", f"{lake['silver_events']:,}")
    layers.add_row("silver order lines", f"{this['order_lines']:,}", "")
    layers.add_row("quarantined", f"{this['quarantined']:,}", f"{lake['quarantined']:,}")
    layers.add_row("duplicates removed", f"{this['duplicates_removed']:,}", f"{lake['duplicates']:,}")
    layers.add_row("late events (kept)", f"{this['late_events']:,}", "")
    for table, rows in sorted(this["gold_rows_written"].items()):
        layers.add_row(f"gold {table} rows rebuilt", f"{rows:,}", "")
    console.print(layers)
    share = this["quarantined_share"]
    if this["bronze_rows"]:
        colour = "yellow" if share["records"] > 0.01 or share["money"] > 0.01 else "green"
        console.print(f"[{colour}]Quarantined: {this['quarantined']:,} of {this['bronze_rows']:,} records "
                      f"({share['records']:.1%}) and {share['money_quarantined']:,.2f} of {share['money_total']:,.2f} "
                      f"in order totals ({share['money']:.1%})[/]", highlight=False)
    _print_counts(console, "Quarantined by reason", this["quarantined_by_reason"])
    _print_counts(console, "Schema drift (accepted, extra fields)", this["schema_drift"])
    balanced = lake["balanced"]
    colour = "green" if balanced else "red"
    console.print(f"[{colour}]Reconciliation: bronze {lake['bronze']:,} = silver {lake['silver_events']:,} "
                  f"+ quarantined {lake['quarantined']:,} + duplicates {lake['duplicates']:,}: "
                  f"{'holds' if balanced else 'DOES NOT HOLD'}[/]")
    if facts["sample_gold_record"]:
        console.print("Sample gold record (gold.sales_by_window, 1h, all stores):")
        console.print_json(data=facts["sample_gold_record"])


def _print_counts(console: Console, title: str, counts: dict[str, int]) -> None:
    if not counts:
        return
    table = Table(title=title)
    table.add_column("key")
    table.add_column("records", justify="right")
    for key, count in counts.items():
        table.add_row(key, f"{count:,}")
    console.print(table)
