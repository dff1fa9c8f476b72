from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.simulator import SimulationSpec
from tests.conftest import land, noisy
from tests.pg import new_database

SPEC = SimulationSpec(events=16_000, seed=17, start=date(2026, 7, 20), days=60, defects=noisy())


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("wh") / "data"
    settings = load_settings(data_dir=data)
    land(settings, SPEC)
    run_batch(settings)
    return data


@pytest.fixture(scope="module")
def duck(lake_dir: Path) -> Settings:
    return load_settings(data_dir=lake_dir)


@pytest.fixture(scope="module")
def pg(lake_dir: Path, postgres_admin_url: str) -> Settings:
    return load_settings(data_dir=lake_dir, warehouse={"url": new_database(postgres_admin_url)})
