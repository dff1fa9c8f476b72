"""`make run` is safe to rerun (#29 point 6): its demo step keeps a data directory that holds data,
says so, and generates nothing again; `--reset` is the one way to start over."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from salesflow.config import load_settings
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS

ROOT = Path(__file__).resolve().parents[2]


def _make_demo(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SALESFLOW__DATA_DIR": str(data)}
    return subprocess.run(["make", "-s", "-C", str(ROOT), "demo", f"DEMO_ARGS=--events 3000 {' '.join(args)}"],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "salesflow").exists(),
                    reason="needs make and the checkout's .venv (what `make test` builds)")
def test_make_demo_twice_keeps_the_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _make_demo(data)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "Simulating 3,000 demo events" in first.stdout
    lake = Lake(load_settings(data_dir=data).lake_root)
    version, rows = lake.version(BRONZE_EVENTS), lake.count_rows(BRONZE_EVENTS)
    (data / "models" / "keep-me").parent.mkdir(parents=True, exist_ok=True)
    (data / "models" / "keep-me").write_text("a trained model")

    second = _make_demo(data)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "already holds 3,000 records: the demo data is not generated again" in second.stdout
    assert (data / "models" / "keep-me").read_text() == "a trained model"
    assert lake.version(BRONZE_EVENTS) == version and lake.count_rows(BRONZE_EVENTS) == rows == 3000

    reset = _make_demo(data, "--reset")
    assert reset.returncode == 0 and "Removing" in reset.stdout and not (data / "models" / "keep-me").exists()
    assert Lake(load_settings(data_dir=data).lake_root).count_rows(BRONZE_EVENTS) == 3000
