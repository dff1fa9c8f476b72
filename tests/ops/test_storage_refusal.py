"""Read-only or full storage is one error line naming the path (#28), and reads still work."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from salesflow.common.storage_errors import storage_failure


def _salesflow(data: Path, lake: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SALESFLOW__LAKE__ROOT": str(lake), "RUST_BACKTRACE": "0"}
    return subprocess.run([str(Path(sys.executable).parent / "salesflow"), "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of its own: the one way to make storage refuse writes to root."""
    lake = tmp_path / "lake"
    lake.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(lake)],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        yield lake
    finally:
        subprocess.run(["umount", "-l", str(lake)], check=False)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr
    return lines[0]


def test_read_only_lake(tmp_path: Path, mounted: Path) -> None:
    data = tmp_path / "data"
    assert _salesflow(data, mounted, "demo", "--events", "2000").returncode == 0
    assert _salesflow(data, mounted, "simulate", "--events", "500", "--seed", "7",
                      "--start", "2026-11-01").returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(mounted)], check=True)

    line = _one_error_line(_salesflow(data, mounted, "batch", "--json"))
    assert line.startswith(f"salesflow: cannot write {mounted}") and "read-only (os error 30)" in line

    status = _salesflow(data, mounted, "status", "--json")  # reading a read-only lake is fine
    assert status.returncode == 0 and "bronze.events" in status.stdout


def test_full_lake(tmp_path: Path, mounted: Path) -> None:
    data = tmp_path / "data"
    assert _salesflow(data, mounted, "simulate", "--events", "500").returncode == 0
    fd = os.open(mounted / "filler", os.O_CREAT | os.O_WRONLY)  # fill the device to its last byte
    for size in (1 << 20, 1):
        try:
            while True:
                os.write(fd, b"\0" * size)
        except OSError:
            pass
    os.close(fd)

    line = _one_error_line(_salesflow(data, mounted, "batch", "--json"))
    assert f"cannot write {mounted}" in line and "no space left" in line


@pytest.mark.parametrize("text,expected", [
    ("Failed to parse parquet: External: Generic LocalFileSystem error: Unable to open file "
     "/lake/silver/orders/part-1.parquet#1: Read-only file system (os error 30)",
     "cannot write /lake/silver/orders/part-1.parquet: the file system is read-only (os error 30)"),
    ("Generic S3 error: request failed: No space left on device (os error 28) at s3://bucket/x",
     None),  # no path before the code: not a storage refusal we can name
    ("Io error: Permission denied (os error 13) writing /data/lake/_delta_log/5.json: see above",
     None),
    ("Cast error: Failed to cast column total to Decimal(18, 2)", None),
])
def test_native_messages(text: str, expected: str | None) -> None:
    line = storage_failure(RuntimeError(text))
    assert (line is None) if expected is None else (line or "").startswith(expected)


def test_os_error_chain() -> None:
    try:
        try:
            raise OSError(28, "No space left on device", "/lake")
        except OSError as inner:
            raise RuntimeError("write failed") from inner
    except RuntimeError as outer:
        assert storage_failure(outer) == storage_failure(OSError(28, "x", "/lake"))
        assert "cannot write /lake: no space left on the device (os error 28)" in (storage_failure(outer) or "")
