"""Stops at the worst moments, then a rerun: nothing lost, nothing doubled, same gold.

The stop is injected at an exact line (an exception the pipeline does not catch), because a
kill signal cannot be aimed between two specific calls; the streaming crash tests use SIGKILL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from salesflow.config import Settings, load_settings
from salesflow.errors import ReconciliationError
from salesflow.jobs import reconcile_lake, run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    BRONZE_EVENTS,
    GOLD_CATEGORY_REVENUE,
    GOLD_DAILY_SALES,
    GOLD_TABLES,
    QUALITY_RESULTS,
    SILVER_ORDERS,
    SILVER_TABLES,
)
from salesflow.simulator import SimulationSpec
from salesflow.sources.checkpoint import SourceCheckpoint
from tests.conftest import land, noisy
from tests.pipeline.lakeview import fingerprint, rows

SPEC = SimulationSpec(events=8_000, seed=31, days=4, defects=noisy())


class Stop(BaseException):
    """Stands for the process dying at this exact point."""


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The same input processed with no interruption."""
    settings = load_settings(data_dir=tmp_path_factory.mktemp("ref") / "data")
    land(settings, SPEC)
    run_batch(settings)
    return settings


def stop_on_call(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, after: int) -> Iterator[None]:
    """Let ``after`` calls of owner.name through, then stop the 'process' on the next one."""
    original = getattr(owner, name)
    calls = {"n": 0}

    def wrapper(self: object, *args: object, **kwargs: object) -> object:
        if calls["n"] >= after:
            raise Stop(f"{owner.__name__}.{name} call {calls['n'] + 1}")
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    yield
    monkeypatch.setattr(owner, name, original)


def assert_same_as_reference(settings: Settings, reference: Settings) -> None:
    rec = reconcile_lake(Lake(settings.lake_root))
    assert rec.balanced and rec == reconcile_lake(Lake(reference.lake_root))
    for spec in (SILVER_ORDERS, GOLD_CATEGORY_REVENUE, GOLD_DAILY_SALES):
        assert sorted(map(repr, _strip(rows(settings, spec)))) == sorted(map(repr, _strip(rows(reference, spec))))


def _strip(table: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("ingested_at", "source_position")} for r in table]


@pytest.mark.parametrize("owner,name,after", [
    (SourceCheckpoint, "commit", 0),     # Bronze committed, checkpoint not: the batch must not repeat
    (Lake, "append", 1),                 # Bronze done, first Silver table written, the rest not
    (Lake, "append", 4),                 # halfway through the Silver tables
    (Lake, "replace_where", 2),          # two of four Gold tables rebuilt
])
def test_stop_then_rerun(settings: Settings, reference: Settings, monkeypatch: pytest.MonkeyPatch,
                         owner: type, name: str, after: int) -> None:
    land(settings, SPEC)
    patch = stop_on_call(monkeypatch, owner, name, after)
    next(patch)
    with pytest.raises(Stop):
        run_batch(settings)
    next(patch, None)
    run_batch(settings)
    assert Lake(settings.lake_root).read(BRONZE_EVENTS).num_rows == SPEC.events
    assert_same_as_reference(settings, reference)


def test_silver_writes_nothing_when_the_bronze_commit_of_its_rows_fails(
        settings: Settings, reference: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Silver gets a batch's rows while their Bronze commit is still being written; when that
    commit fails, no Silver or Gold table and no quality result may hold anything of them."""
    land(settings, SPEC)
    patch = stop_on_call(monkeypatch, Lake, "append", 0)  # the first append is the Bronze commit
    next(patch)
    with pytest.raises(Stop):
        run_batch(settings)
    next(patch, None)
    lake = Lake(settings.lake_root)
    assert lake.table(BRONZE_EVENTS) is None
    assert all(lake.table(spec) is None for spec in (*SILVER_TABLES, *GOLD_TABLES, QUALITY_RESULTS))
    assert SourceCheckpoint.load(settings.checkpoint_dir / "landing.json").pending is not None
    run_batch(settings)
    assert_same_as_reference(settings, reference)


def test_lost_checkpoint_is_rebuilt_from_bronze(settings: Settings, reference: Settings) -> None:
    records = land(settings, SPEC)
    run_batch(settings)
    before = fingerprint(settings)
    (settings.checkpoint_dir / "landing.json").unlink()
    assert run_batch(settings).bronze_rows == 0
    assert fingerprint(settings) == before
    assert len(records) == Lake(settings.lake_root).read(BRONZE_EVENTS).num_rows
    assert_same_as_reference(settings, reference)


def test_broken_lake_fails_loudly(settings: Settings, tmp_path: Path) -> None:
    land(settings, SimulationSpec(events=3_000, seed=2, days=2))
    run_batch(settings)
    table = Lake(settings.lake_root).table(SILVER_ORDERS)
    assert table is not None
    table.delete("channel = 'web'")  # records silently vanish from Silver
    rec = reconcile_lake(Lake(settings.lake_root))
    assert not rec.balanced and rec.bronze > rec.accounted
    land(settings, SimulationSpec(events=500, seed=3, days=1))
    with pytest.raises(ReconciliationError, match="does not reconcile"):
        run_batch(settings)
