"""Gates inside the pipeline: fail blocks promotion, quarantine moves rows, warn records, alerts go out."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from salesflow.config import Settings, load_settings
from salesflow.errors import ConfigError, QualityGateError
from salesflow.jobs import reconcile_lake, run_batch
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    BRONZE_EVENTS,
    GOLD_CATEGORY_REVENUE,
    QUARANTINE,
    SILVER_ORDER_LINES,
    SILVER_ORDERS,
)
from salesflow.quality.results import latest_run
from salesflow.simulator import SimulationSpec
from salesflow.warehouse.targets import connect
from tests.conftest import land, noisy
from tests.pipeline.lakeview import fingerprint, rows
from tests.quality.webhook import webhook_server

SPEC = SimulationSpec(events=6_000, seed=12, days=4)
MORE = SimulationSpec(events=3_000, seed=13, days=4)


def with_rules(tmp_path: Path, data: Path, yaml_text: str, **extra: object) -> Settings:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml_text)
    return load_settings(data_dir=data, quality={"expectations_file": str(rules)}, **extra)


def silver_and_gold(settings: Settings) -> dict[str, object]:
    return {k: v for k, v in fingerprint(settings).items() if k.startswith(("silver.", "gold."))}


def test_fail_in_silver_leaves_silver_and_gold_unchanged(tmp_path: Path) -> None:
    data = tmp_path / "d"
    plain = load_settings(data_dir=data)
    land(plain, SPEC)
    run_batch(plain)
    before = silver_and_gold(plain)
    land(plain, MORE)
    strict = with_rules(tmp_path, data, "silver:\n  orders:\n"
                        "    - {kind: range, column: total_amount, max: 300, rule: no_big_orders, action: fail}\n")
    with pytest.raises(QualityGateError, match="no_big_orders"):
        run_batch(strict)
    assert silver_and_gold(plain) == before
    assert Lake(plain.lake_root).read(BRONZE_EVENTS).num_rows == SPEC.events + MORE.events  # lower layer intact
    failed = [r for r in latest_run(Lake(plain.lake_root)) if r["rule"] == "no_big_orders"]
    assert failed and not failed[0]["passed"] and failed[0]["violating_rows"] > 0
    assert all(Decimal(str(s["total_amount"])) > 300 for s in failed[0]["sample"])
    cli = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(data), "quality", "report"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1 and "no_big_orders" in cli.stdout and "blocking" in cli.stdout
    # The closing sentence counts the table's lines (one per rule), not the per-batch checks behind them.
    lines = [line for line in cli.stdout.splitlines() if line.startswith("│")]
    summary = re.search(r"(\d+) blocking rule\(s\) failed, (\d+) of (\d+) rules with violations", cli.stdout)
    assert summary is not None, cli.stdout
    assert int(summary.group(3)) == len(lines)
    assert int(summary.group(2)) == sum(1 for line in lines if "pass" not in line.split("│")[5])
    assert int(summary.group(1)) == sum(1 for line in lines if "FAIL" in line) >= 1
    with pytest.raises(QualityGateError):  # blocked until the data or the rule changes
        run_batch(strict)
    run_batch(plain)  # the rule relaxed: the held batch goes through, once
    assert reconcile_lake(Lake(plain.lake_root)).balanced


def test_fail_in_gold_keeps_silver_but_not_gold(tmp_path: Path) -> None:
    data = tmp_path / "d"
    plain = load_settings(data_dir=data)
    land(plain, SPEC)
    strict = with_rules(tmp_path, data, "gold:\n  category_revenue:\n    - kind: sql\n      rule: no_books\n"
                        "      action: fail\n      sql: SELECT * FROM {{ relation }} WHERE category = 'books'\n")
    with pytest.raises(QualityGateError, match="no_books"):
        run_batch(strict)
    assert rows(plain, SILVER_ORDERS) and not Lake(plain.lake_root).exists(GOLD_CATEGORY_REVENUE)
    run_batch(plain)
    assert rows(plain, GOLD_CATEGORY_REVENUE)


def test_quarantine_rule_moves_whole_orders_with_reason(tmp_path: Path) -> None:
    data = tmp_path / "d"
    settings = with_rules(tmp_path, data, "silver:\n  order_lines:\n"
                          "    - {kind: range, column: quantity, max: 2, rule: bulk_line, action: quarantine}\n")
    records = land(settings, SPEC)
    run_batch(settings)
    bulky = {r.event["event_id"] for r in records if r.expected == "silver" and r.event["event_type"] == "order_created"
             and any(line["quantity"] > 2 for line in r.event["lines"])}
    moved = [r for r in rows(settings, QUARANTINE) if r["reason"] == "bulk_line"]
    assert bulky and {r["event_id"] for r in moved} == bulky
    assert all(r["reason_detail"] == "quality_gate" and r["payload"] for r in moved)
    assert not bulky & {r["event_id"] for r in rows(settings, SILVER_ORDERS)}
    assert not bulky & {r["event_id"] for r in rows(settings, SILVER_ORDER_LINES)}
    assert reconcile_lake(Lake(settings.lake_root)).balanced


def test_warn_records_and_goes_on(tmp_path: Path) -> None:
    settings = with_rules(tmp_path, tmp_path / "d", "silver:\n  orders:\n"
                          "    - {kind: range, column: total_amount, max: 300, rule: big_orders, action: warn}\n")
    land(settings, SPEC)
    run_batch(settings)
    [result] = [r for r in latest_run(Lake(settings.lake_root)) if r["rule"] == "big_orders"]
    big = sum(o["total_amount"] > 300 for o in rows(settings, SILVER_ORDERS))
    assert not result["passed"] and result["violating_rows"] == big > 0


def test_every_defect_is_accounted_for_by_rule(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 600_000})
    spec = SimulationSpec(events=12_000, seed=14, days=5, defects=noisy())
    records = land(settings, spec, per_segment=2_000)
    run = run_batch(settings)
    assert len(run.silver) > 1
    results = [r for r in latest_run(Lake(settings.lake_root)) if r["kind"] in ("contract", "dedupe")]
    by_rule: Counter[str] = Counter()
    for r in results:
        by_rule[r["rule"]] += r["violating_rows"]
    expected: Counter[str] = Counter()
    for record in records:
        if record.expected == "duplicate":
            expected["dedupe.event_id"] += 1
        elif record.expected != "silver":
            reason = "invalid_encoding" if record.line.startswith(b"\xff") else record.expected
            expected[f"contract.{reason}"] += 1
    assert by_rule == expected
    assert reconcile_lake(Lake(settings.lake_root)).balanced


def test_alert_on_blocking_failure_with_retries(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with webhook_server(fail_first=2) as hook:
        settings = with_rules(
            tmp_path,
            data,
            "silver:\n  orders:\n"
            "    - {kind: range, column: total_amount, max: 300, rule: no_big_orders, action: fail}\n",
            alerts={"webhook_url": hook.url, "retries": 3},
        )
        land(settings, SPEC)
        with pytest.raises(QualityGateError):
            run_batch(settings)
    texts = [m["text"] for m in hook.received]
    assert hook.attempts >= 3 and any("no_big_orders" in t and "quality gate failed" in t for t in texts)
    assert any("freshness slipped" in t for t in texts)  # September data, checked in November


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dead_webhook_never_crashes_the_pipeline(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    settings = load_settings(data_dir=tmp_path / "d", alerts={"webhook_url": url, "retries": 1, "timeout_seconds": 1})
    land(settings, SPEC)
    run = run_batch(settings)  # freshness alerts fail to send; the run still completes
    assert run.reconciliation is not None and run.reconciliation.balanced


def test_warehouse_gate_rolls_back_a_load_that_does_not_reconcile(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    land(settings, SPEC)
    run_batch(settings)
    load_warehouse(settings)
    with connect(settings) as target:
        target.run("DELETE FROM fact_sales WHERE line_number = 1 AND channel = 'web'")
        damaged = target.select("SELECT count(*) AS n FROM fact_sales")["n"][0].as_py()
    land(settings, MORE)
    run_batch(settings)
    with pytest.raises(QualityGateError, match="reconcile_silver_warehouse"):
        load_warehouse(settings)
    with connect(settings) as target:
        assert target.select("SELECT count(*) AS n FROM fact_sales")["n"][0].as_py() == damaged  # rolled back
    [check] = [r for r in latest_run(Lake(settings.lake_root)) if r["rule"] == "reconcile_silver_warehouse"]
    assert not check["passed"] and check["sample"][0]["fact_sales"] < check["sample"][0]["silver_order_lines"]


@pytest.mark.parametrize("text,message", [
    ("silver:\n  orders:\n    - {kind: range, column: total_amount}\n", "range needs min, max"),
    ("silver:\n  orders:\n    - {kind: nope, column: x}\n", "orders"),
    ("gold:\n  daily_sales:\n    - {kind: not_null, columns: [units], action: quarantine}\n", "only for silver"),
    ("bronze:\n  events: []\n", "top-level keys"),
])
def test_bad_rule_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    settings = with_rules(tmp_path, tmp_path / "d", text)
    land(settings, SimulationSpec(events=300, seed=1, days=1))
    with pytest.raises(ConfigError, match=message):
        run_batch(settings)


def test_disabled_suites_still_check_contract_and_reconciliation(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", quality={"enabled": False})
    land(settings, SimulationSpec(events=3_000, seed=2, days=2, defects=noisy()))
    run_batch(settings)
    kinds = {r["kind"] for r in latest_run(Lake(settings.lake_root))}
    assert kinds == {"contract", "dedupe", "reconciliation"}


def test_volume_history_counts_from_the_delta_log_equal_a_count_of_the_rows(tmp_path: Path) -> None:
    """The volume rule's earlier-day counts come from the log's per-file record counts when every
    file lies before the batch, and from reading the rows in a replay; both equal a plain count."""
    from datetime import timedelta

    import pyarrow.dataset as ds

    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.lake.tables import SILVER_PRODUCT_VIEWS
    from salesflow.quality import make_gate
    from salesflow.silver.gates import SilverGates

    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 60_000})
    land(settings, SimulationSpec(events=3_000, seed=4, days=3), per_segment=300)
    run_batch(settings)
    lake, engine = Lake(settings.lake_root), DuckDBEngine()
    gate = make_gate(engine, settings, "silver", "t")
    batches = lake.distinct((SILVER_PRODUCT_VIEWS,), "batch_id")
    first_day = min(lake.distinct((SILVER_PRODUCT_VIEWS,), "event_date")) - timedelta(days=1)
    for batch_id in (max(batches) + 1, batches[len(batches) // 2]):  # after every file; a replay
        counted = SilverGates(lake, engine, gate, batch_id)._earlier_counts(SILVER_PRODUCT_VIEWS, first_day)
        table = lake.read(SILVER_PRODUCT_VIEWS, columns=["event_date"], filter=ds.field("batch_id") < batch_id)
        assert table is not None
        expected = Counter(table["event_date"].to_pylist())
        assert dict(zip(counted["event_date"].to_pylist(), counted["rows"].to_pylist(), strict=True)) == expected
        assert sum(expected.values()) > 0


def test_quarantine_rate_is_loud_and_blocks_above_its_threshold(settings: Settings, tmp_path: Path) -> None:
    """A partner file of 1,200 orders, every fourth with a customer id over the contract's 128
    characters: 25% of the records and of the money. Above quarantine_rate_fail (20%) the batch is
    held (nothing in Silver, exit non-zero); allowed, it goes through and says how much it lost."""
    from tests.sources.test_partner_files import SHOP

    lines = ["Bestellung;Kunde;Datum;Artikel;Menge;Preis"]
    for i in range(1_200):
        customer = "K" * 200 if i % 4 == 0 else f"K{i % 7}"
        lines.append(f"B{i};{customer};01.09.2026 10:{i % 60:02d};Tisch;2;10,00")
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(lines) + "\n")
    strict, lenient = tmp_path / "strict.yaml", tmp_path / "lenient.yaml"
    strict.write_text(yaml.safe_dump({"files": {"shop": SHOP}}))
    lenient.write_text(yaml.safe_dump({"files": {"shop": SHOP}, "quality": {"quarantine_rate_fail": None}}))

    def salesflow(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir",
                               str(settings.data_dir), *args], capture_output=True, text=True, timeout=300)

    held = salesflow(strict, "ingest-files", str(orders), "--source", "shop")
    assert held.returncode == 1, held.stdout + held.stderr
    assert "quarantine_rate (300 rows)" in held.stderr
    assert not Lake(settings.lake_root).exists(SILVER_ORDERS)  # nothing of the batch written
    rate = [r for r in latest_run(Lake(settings.lake_root)) if r["rule"] == "quarantine_rate"]
    assert rate and rate[0]["action"] == "fail" and rate[0]["sample"][0]["share"] == 0.25
    assert rate[0]["sample"][0]["money_share"] == 0.25

    passed = salesflow(lenient, "batch")
    assert passed.returncode == 0, passed.stderr[-2000:]
    assert ("Quarantined: 300 of 1,200 records (25.0%) and 6,000.00 of 24,000.00 in order totals (25.0%)"
            in passed.stdout), passed.stdout
    assert len(rows(settings, SILVER_ORDERS)) == 900
    rate = [r for r in latest_run(Lake(settings.lake_root)) if r["rule"] == "quarantine_rate"]
    assert rate[0]["action"] == "warn" and not rate[0]["passed"]


def test_a_small_batch_only_warns_on_its_quarantine_rate(tmp_path: Path) -> None:
    """Below quarantine_rate_min_rows (1,000) a high rate is a warning: three bad records in a
    micro-batch of ten must not stop a stream."""
    data = tmp_path / "d"
    plain = load_settings(data_dir=data)
    land(plain, SimulationSpec(events=400, seed=31, days=1, defects=noisy()))
    run_batch(plain)
    [rate] = [r for r in latest_run(Lake(plain.lake_root)) if r["rule"] == "quarantine_rate"]
    assert rate["action"] == "warn" and rate["sample"][0]["records"] == 400
    strict = load_settings(data_dir=data, quality={"quarantine_rate_fail": 0.0, "quarantine_rate_min_rows": 1})
    land(strict, SimulationSpec(events=400, seed=32, days=1, defects=noisy()))
    with pytest.raises(QualityGateError, match="quarantine_rate"):
        run_batch(strict)
