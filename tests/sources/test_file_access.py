"""A partner drop folder cannot be turned against the host: links, FIFOs, devices and /proc refused.

The planted canary is an environment variable of the ingesting process whose name is not
secret-like: only not reading ``/proc/self/environ`` at all keeps it out of the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from salesflow.config import Settings
from salesflow.lake.tables import SILVER_ORDERS
from salesflow.sources.file_access import FileRejected, read_confined
from tests.pipeline.lakeview import rows
from tests.sources.test_partner_files import SHOP

GOOD = "Bestellung;Kunde;Datum;Artikel;Menge;Preis\nG1;K1;01.09.2026 10:15;Tisch;1;2,00\n"


def ingest(
    settings: Settings, tmp_path: Path, paths: list[Path], **source: object
) -> tuple[subprocess.CompletedProcess[str], str]:
    canary = "canary-" + uuid.uuid4().hex
    config = tmp_path / "salesflow.yaml"
    config.write_text(yaml.safe_dump({"files": {"shop": {**SHOP, **source}}}))
    env = {**os.environ, "DROP_CANARY": canary, "SALESFLOW__WAREHOUSE__URL": f"postgresql://etl:{canary}x@db/s"}
    result = subprocess.run([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir",
                             str(settings.data_dir), "ingest-files", *map(str, paths), "--source", "shop"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    return result, canary


def test_links_fifos_and_devices_in_a_drop_folder_are_refused_and_never_echoed(settings: Settings,
                                                                               tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a-good.csv").write_text(GOOD)
    (drop / "b-environ.csv").symlink_to("/proc/self/environ")
    os.mkfifo(drop / "c-pipe.csv")  # opened for reading, a FIFO would block until a writer came
    (drop / "d-null.csv").symlink_to("/dev/null")
    elsewhere = tmp_path / "outside.csv"
    elsewhere.write_text(GOOD.replace("G1", "O1"))
    (drop / "e-link.csv").symlink_to(elsewhere)

    result, canary = ingest(settings, tmp_path, [drop])
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert canary not in out and "Traceback" not in out
    assert "b-environ.csv: a symbolic link; not followed" in out
    assert "c-pipe.csv: a FIFO, not a regular file" in out
    assert "d-null.csv: a symbolic link" in out and "e-link.csv: a symbolic link" in out
    assert [r["order_id"] for r in rows(settings, SILVER_ORDERS)] == ["G1"]

    # Told to follow links: a link to a regular file loads; /proc, devices and FIFOs never do.
    (drop / "f-pipe-link.csv").symlink_to(drop / "c-pipe.csv")
    result, canary = ingest(settings, tmp_path, [drop], follow_symlinks=True)
    out = result.stdout + result.stderr
    assert result.returncode == 2 and canary not in out, out
    assert "b-environ.csv: resolves into /proc" in out
    assert "d-null.csv: a character device" in out and "f-pipe-link.csv: a FIFO" in out
    assert sorted(r["order_id"] for r in rows(settings, SILVER_ORDERS)) == ["G1", "O1"]


def test_a_file_that_is_not_the_sources_table_is_not_quoted(settings: Settings, tmp_path: Path) -> None:
    """A regular file holding secrets (a copied environment, a key file) is refused without an echo."""
    dump = tmp_path / "env.csv"
    secret = "s3cr3t-" + uuid.uuid4().hex
    dump.write_bytes(f"API_TOKEN={secret}\0HOME=/root\0\nX=1\n".encode())
    result, _ = ingest(settings, tmp_path, [dump])
    assert result.returncode == 2
    assert secret not in result.stdout + result.stderr
    assert "env.csv: header of 1 field(s), none mapped, lacks column(s)" in result.stderr


def test_read_confined_refuses_without_blocking_and_reads_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileRejected, match="a FIFO"):
        read_confined(fifo, follow_symlinks=True)
    with pytest.raises(FileRejected, match="a directory"):
        read_confined(tmp_path, follow_symlinks=False)
    with pytest.raises(FileRejected, match="no such file"):
        read_confined(tmp_path / "missing.csv", follow_symlinks=False)
    with pytest.raises(FileRejected, match="resolves into /proc"):
        read_confined(Path("/proc/self/environ"), follow_symlinks=False)  # named directly, too
    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"a,b\n1,2\n")
    assert read_confined(plain, follow_symlinks=False) == b"a,b\n1,2\n"


def test_a_file_still_being_written_waits_and_then_loads_whole(settings: Settings, tmp_path: Path) -> None:
    """The loss that used to reconcile: an order cut after its first line was accepted with one line,
    and the whole file later dropped as its duplicate (60.00 of revenue gone, reconcile balanced)."""
    from decimal import Decimal

    from salesflow.lake.delta import Lake
    from salesflow.lake.tables import BRONZE_EVENTS
    from salesflow.pipeline.reconcile import reconcile_lake

    drop = tmp_path / "drop"
    drop.mkdir()
    head = "Bestellung;Kunde;Datum;Artikel;Menge;Preis\nW1;K1;01.09.2026 10:15;Tisch;1;40,00\n"
    growing = drop / "orders.csv"
    growing.write_text(head)  # the partner's upload is half done
    result, _ = ingest(settings, tmp_path, [drop], settle_seconds=30)
    assert result.returncode == 0 and "waiting" in result.stdout, result.stdout + result.stderr
    assert Lake(settings.lake_root).read(BRONZE_EVENTS) is None  # nothing of it was taken

    growing.write_text(head + "W1;K1;01.09.2026 10:15;Stuhl;2;10,00\n")  # the upload completes
    past = growing.stat().st_mtime - 60
    os.utime(growing, (past, past))  # ... and stays unchanged for longer than settle_seconds
    result, _ = ingest(settings, tmp_path, [drop], settle_seconds=30)
    assert result.returncode == 0, result.stderr
    (order,) = rows(settings, SILVER_ORDERS)
    assert order["order_id"] == "W1" and order["total_amount"] == Decimal("60.00")
    assert reconcile_lake(Lake(settings.lake_root)).balanced


def test_a_folder_is_read_once_its_completion_marker_is_there(settings: Settings, tmp_path: Path) -> None:
    drop = tmp_path / "2026-09-01"
    drop.mkdir()
    (drop / "a.csv").write_text(GOOD)
    result, _ = ingest(settings, tmp_path, [drop], complete_marker="_SUCCESS")
    assert result.returncode == 0 and "no _SUCCESS in its folder yet" in result.stdout
    assert rows(settings, SILVER_ORDERS) == []
    (drop / "_SUCCESS").write_text("")
    result, _ = ingest(settings, tmp_path, [drop], complete_marker="_SUCCESS")
    assert result.returncode == 0, result.stderr
    assert [r["order_id"] for r in rows(settings, SILVER_ORDERS)] == ["G1"]
