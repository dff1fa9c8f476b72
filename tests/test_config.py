from __future__ import annotations

from pathlib import Path

import pytest

from salesflow.config import load_settings
from salesflow.errors import ConfigError


def test_embedded_defaults_need_no_file() -> None:
    settings = load_settings()
    assert settings.engine.name == "duckdb"
    assert settings.lake_root == str(Path("data") / "lake")
    assert settings.landing_dir == Path("data") / "landing"
    assert settings.warehouse_path == Path("data") / "warehouse.duckdb"


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "salesflow.yaml"
    config.write_text("pipeline:\n  max_payload_bytes: 4096\n  allowed_lateness_seconds: 5\n")
    monkeypatch.setenv("SALESFLOW__PIPELINE__ALLOWED_LATENESS_SECONDS", "90")
    settings = load_settings()  # ./salesflow.yaml is picked up from the working directory
    assert settings.pipeline.max_payload_bytes == 4096
    assert settings.pipeline.allowed_lateness_seconds == 90


def test_bad_value_names_key_and_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESFLOW__ENGINE__NAME", "sparky")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "engine.name" in message and "'duckdb'" in message and "'spark'" in message
    assert "\n" not in message and info.value.exit_code == 2


def test_unknown_key_in_file_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "other.yaml"
    config.write_text("lake:\n  rooot: /x\n")
    with pytest.raises(ConfigError, match="lake.rooot"):
        load_settings(config)


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "salesflow.yaml"
    config.write_text("warehouse:\n  url: postgresql://u:hunter2@db/sales\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "SALESFLOW__WAREHOUSE__URL" in str(info.value) and "hunter2" not in str(info.value)


def test_secret_from_env_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESFLOW__WAREHOUSE__URL", "postgresql://u:hunter2@db/sales")
    settings = load_settings()
    assert settings.warehouse.url is not None
    assert settings.warehouse.url.get_secret_value().endswith("/sales")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")
