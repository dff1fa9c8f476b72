"""Shared fixtures: an isolated data directory per test and helpers to simulate into it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from salesflow.config import Settings, load_settings
from salesflow.simulator import DefectRates, SimRecord, SimulationSpec, build_catalog, simulate
from salesflow.simulator.output import write_reference, write_to_landing
from salesflow.sources.landing import LandingLog


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No SALESFLOW_* variable or ./salesflow.yaml from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("SALESFLOW"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """One real PostgreSQL server for the whole session; tests make their own databases."""
    from tests.pg import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def kafka_address() -> Iterator[str]:
    """A real Kafka-protocol broker (tansu) on a free port for the session."""
    from salesflow.sources.broker import embedded_broker

    with embedded_broker() as address:
        yield address


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


def land(settings: Settings, spec: SimulationSpec, per_segment: int = 20_000) -> list[SimRecord]:
    """Simulate ``spec`` into the landing log; return the records in the order they were written."""
    catalog = build_catalog(spec.seed)
    landing = LandingLog(settings.landing_dir)
    write_reference(landing, catalog)
    records = list(simulate(spec, catalog))
    write_to_landing(landing, records, per_segment)
    return records


def noisy(**overrides: float) -> DefectRates:
    """Every defect at a rate high enough to appear many times in a few thousand events."""
    base = dict(duplicate=0.03, late=0.03, malformed_json=0.01, missing_field=0.02, negative_value=0.02,
                wrong_type=0.02, unknown_event_type=0.01, schema_drift=0.02, oversized=0.002)
    return DefectRates(**{**base, **overrides})
