"""Many small partner files share Bronze commits (#28): each file still whole, once, by content,
and orders grouped within their own file. The 10,000-file timing is in bench/small_files_bench.py."""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from salesflow.config import Settings, load_settings
from salesflow.jobs.sources import ingest_files
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, QUARANTINE, SILVER_ORDER_LINES, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_lake
from tests.pipeline.lakeview import rows

SHOP = {
    "grain": "line",
    "fields": {
        "order_id": "order", "customer_id": "customer", "event_time": "time",
        "store_id": {"const": "S001"}, "channel": {"const": "web"}, "currency": {"const": "USD"},
        "payment_method": {"const": "card"},
        "lines.product_id": "product", "lines.quantity": "qty", "lines.unit_price": "price",
    },
}
HEADER = "order,customer,time,product,qty,price"


def _write(folder: Path, files: int) -> Decimal:
    """``files`` CSVs of 10 lines (5 orders of 2 lines); returns their revenue."""
    folder.mkdir(parents=True, exist_ok=True)
    revenue = Decimal(0)
    for f in range(files):
        lines = [HEADER]
        for r in range(10):
            order, quantity, price = f * 5 + r // 2, 1 + r % 3, Decimal(f"{10 + r}.{f % 100:02d}")
            day = f"2026-10-{1 + order % 28:02d}T10:{r:02d}:00Z"
            lines.append(f"F{order},C{order % 97},{day},P{r % 7},{quantity},{price}")
            revenue += quantity * price
        (folder / f"f{f:05d}.csv").write_text("\n".join(lines) + "\n")
    return revenue


def _settings(settings: Settings, **pipeline: object) -> Settings:
    return load_settings(data_dir=settings.data_dir, files={"shop": SHOP}, pipeline=pipeline)


def test_small_files_share_a_commit_each_whole_once(settings: Settings, tmp_path: Path) -> None:
    settings = _settings(settings)
    folder = tmp_path / "drop"
    revenue = _write(folder, 2000)
    shutil.copy(folder / "f00007.csv", folder / "resent-f00007.csv")  # same bytes, another name
    (folder / "zz-bad.csv").write_text("sku;menge\n1;2\n")             # a header the mapping lacks

    paths = sorted(folder.iterdir())
    run = ingest_files(settings, paths, "shop")
    assert [o.path for o in run.outcomes] == paths  # in the order asked, whatever the batching
    statuses = Counter(o.status for o in run.outcomes)
    assert statuses == {"ingested": 2000, "skipped": 1, "rejected": 1}
    assert all(o.rows == 5 for o in run.outcomes if o.status == "ingested")

    bronze = rows(settings, BRONZE_EVENTS)
    assert len(bronze) == 10_000 and len({r["batch_id"] for r in bronze}) == 1  # one commit, not 2,000
    assert Lake(settings.lake_root).version(BRONZE_EVENTS) == 0
    assert len({r["source_file"] for r in bronze}) == 2000
    orders = rows(settings, SILVER_ORDERS)
    assert len(orders) == 10_000 and sum(r["total_amount"] for r in orders) == revenue
    assert len(rows(settings, SILVER_ORDER_LINES)) == 20_000
    first = next(r for r in orders if r["order_id"] == "F35")
    assert first["source_position"] == "f00007.csv:2"  # its own file and line
    assert reconcile_lake(Lake(settings.lake_root), money=True).balanced

    again = ingest_files(settings, paths, "shop")  # a second delivery of everything: nothing new
    assert Counter(o.status for o in again.outcomes) == {"skipped": 2001, "rejected": 1}
    assert Lake(settings.lake_root).version(BRONZE_EVENTS) == 0


def test_batches_are_bounded_by_bytes_and_never_split_a_file(settings: Settings, tmp_path: Path) -> None:
    settings = _settings(settings, max_batch_bytes=4096)
    folder = tmp_path / "drop"
    _write(folder, 60)
    run = ingest_files(settings, sorted(folder.iterdir()), "shop", bronze_only=True)
    batches_of_file: dict[str, set[int]] = defaultdict(set)
    for row in rows(settings, BRONZE_EVENTS):
        batches_of_file[row["source_file"]].add(row["batch_id"])
    assert len(batches_of_file) == 60 and all(len(b) == 1 for b in batches_of_file.values())
    per_batch = Counter(next(iter(b)) for b in batches_of_file.values())
    assert len(per_batch) > 3 and max(per_batch.values()) < 60  # several files per commit, several commits
    assert {o.batch_id for o in run.outcomes} == set(per_batch)


def test_an_order_in_two_files_is_not_merged(settings: Settings, tmp_path: Path) -> None:
    """Orders are grouped within a file: the same order id in another file of the batch is
    another delivery (here with other content: a conflicting duplicate), not more lines of the first."""
    settings = _settings(settings)
    folder = tmp_path / "drop"
    folder.mkdir()
    at = "2026-10-01T10:00:00Z"
    (folder / "a.csv").write_text(f"{HEADER}\nX1,C1,{at},P1,1,5.00\nX1,C1,{at},P2,1,6.00\n")
    (folder / "b.csv").write_text(f"{HEADER}\nX1,C1,{at},P3,1,7.00\n")
    ingest_files(settings, sorted(folder.iterdir()), "shop")
    [order] = rows(settings, SILVER_ORDERS)
    assert order["total_amount"] == Decimal("11.00") and order["source_position"] == "a.csv:2"
    assert [(q["source_position"], q["reason"]) for q in rows(settings, QUARANTINE)] == \
        [("b.csv:2", "conflicting_duplicate")]
