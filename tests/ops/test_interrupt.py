"""Ctrl-C is clean (#28): one line and exit 130, whenever it comes, and the next run goes on from
what was committed: nothing lost, nothing twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from salesflow.config import load_settings
from salesflow.lake.delta import Lake
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.simulator import SimulationSpec
from tests.conftest import land

SALESFLOW = str(Path(sys.executable).parent / "salesflow")


def _interrupt(args: list[str], after: float) -> subprocess.CompletedProcess[str]:
    """Start the command and send SIGINT ``after`` seconds in (it may have finished by then: the
    outcome is checked either way). SIGINT is reset for the child: a CI started in the background
    runs with it ignored, and that is inherited."""
    child = subprocess.Popen([SALESFLOW, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    time.sleep(after)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.parametrize("after", [0.8, 2.0, 3.5])
def test_batch_interrupted_then_resumed(tmp_path: Path, after: float) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    land(settings, SimulationSpec(events=60_000, seed=3, start=date(2026, 9, 1), days=7), per_segment=5_000)
    base = ["--data-dir", str(settings.data_dir)]

    stopped = _interrupt([*base, "batch", "--json"], after)
    assert stopped.returncode in (0, 130), stopped.stderr
    assert "Traceback" not in stopped.stderr
    if stopped.returncode == 130:
        assert stopped.stderr.strip().splitlines() == [
            "salesflow: interrupted; what was committed stays, and the next run goes on from there"]

    resumed = subprocess.run([SALESFLOW, *base, "batch", "--json"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    result = reconcile_lake(Lake(settings.lake_root), money=True)
    assert result.balanced and result.bronze == 60_000
