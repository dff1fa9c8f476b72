"""The one Settings object: every section, and the paths the embedded defaults resolve to."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from salesflow.config.engine import EngineConfig, SparkConfig
from salesflow.config.file import ENV_PREFIX, config_file_in_use, read_config_file
from salesflow.config.forecast import ForecastConfig
from salesflow.config.lineage import LineageConfig
from salesflow.config.pipeline import PipelineConfig
from salesflow.config.quality import AlertsConfig, QualityConfig
from salesflow.config.run import LiveConfig, RunConfig
from salesflow.config.sources import ApiSourceSpec, CollectorConfig, FileSourceSpec
from salesflow.config.storage import LakeConfig, LandingConfig, WarehouseConfig
from salesflow.config.streaming import KafkaConfig, StreamConfig


class Settings(BaseSettings):
    """Everything salesflow can be told. Sections map to ``SALESFLOW__<SECTION>__<KEY>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path("data")
    """Base directory for every embedded default path."""
    lake: LakeConfig = LakeConfig()
    landing: LandingConfig = LandingConfig()
    warehouse: WarehouseConfig = WarehouseConfig()
    engine: EngineConfig = EngineConfig()
    spark: SparkConfig = SparkConfig()
    pipeline: PipelineConfig = PipelineConfig()
    kafka: KafkaConfig = KafkaConfig()
    stream: StreamConfig = StreamConfig()
    quality: QualityConfig = QualityConfig()
    alerts: AlertsConfig = AlertsConfig()
    files: dict[str, FileSourceSpec] = {}
    """Partner file sources by name: format, parsing and the column mapping to the contract."""
    apis: dict[str, ApiSourceSpec] = {}
    """Partner REST APIs polled by ``salesflow poll NAME``."""
    collector: CollectorConfig = CollectorConfig()
    forecast: ForecastConfig = ForecastConfig()
    run: RunConfig = RunConfig()
    live: LiveConfig = LiveConfig()
    lineage: LineageConfig = LineageConfig()
    """OpenLineage events for every job run (off unless a url or file is set)."""
    log_format: Literal["text", "json"] = "text"
    """Log line format on stderr."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_values = read_config_file(config_file_in_use(), settings_cls)
        return init_settings, env_settings, InitSettingsSource(settings_cls, file_values)

    # Resolved paths: one place decides where the embedded defaults live.
    @property
    def lake_root(self) -> str:
        return self.lake.root or str(self.data_dir / "lake")

    @property
    def landing_dir(self) -> Path:
        return Path(self.landing.path) if self.landing.path else self.data_dir / "landing"

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse.path) if self.warehouse.path else self.data_dir / "warehouse.duckdb"

    @property
    def registry_dir(self) -> Path:
        return Path(self.forecast.registry) if self.forecast.registry else self.data_dir / "models"

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoints"
