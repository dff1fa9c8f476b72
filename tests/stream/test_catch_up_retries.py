"""`stream` retries a commit conflict in its catch-up step like any micro-batch (#28): it exited 1
with `LakeWriteError ... Concurrent transaction failed` instead."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from salesflow.config import load_settings
from salesflow.errors import LakeWriteError
from salesflow.jobs.lake import reconcile
from salesflow.jobs.stream import run_stream
from salesflow.pipeline.runner import Runner
from salesflow.simulator import SimulationSpec
from tests.conftest import land


def test_a_conflict_in_the_catch_up_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(data_dir=tmp_path / "d", stream={"retry_backoff_seconds": 0.05})
    land(settings, SimulationSpec(events=1_500, seed=4, start=date(2026, 9, 1), days=2))
    real, calls = Runner.downstream, []

    def conflicting(self: Runner, result: object, **kwargs: object) -> object:
        calls.append(kwargs)
        if len(calls) == 1:  # a commit conflict cannot be timed for real against our own catch-up
            raise LakeWriteError("silver.orders: Concurrent transaction failed (another writer committed first)")
        return real(self, result, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Runner, "downstream", conflicting)
    stats = run_stream(settings, "landing", available_now=True)
    assert calls[0] == {} and calls[1] == {} and stats.batches >= 1  # the catch-up, failed, then retried
    rec = reconcile(settings)
    assert rec.balanced and rec.bronze == 1_500
