"""Typed configuration, loaded once.

Resolution order, highest first: explicit overrides (CLI flags), environment variables
``SALESFLOW__SECTION__KEY``, the YAML file (``--config``, ``$SALESFLOW_CONFIG`` or
``./salesflow.yaml``), then the defaults. No file is needed for the embedded default. Secrets are
typed ``SecretStr`` and are only accepted from the environment, never from a file.

One module per section; ``settings`` gathers them, ``file`` reads YAML, ``loader`` builds it all.
"""

from salesflow.config.engine import EngineConfig, SparkConfig
from salesflow.config.file import (
    CONFIG_ENV,
    DEFAULT_CONFIG_FILE,
    ENV_PREFIX,
    FREE_FORM_MAPS,
    config_file_in_use,
)
from salesflow.config.forecast import ForecastConfig, GbmParams
from salesflow.config.lineage import LineageConfig
from salesflow.config.loader import load_settings
from salesflow.config.pipeline import PipelineConfig
from salesflow.config.quality import AlertsConfig, QualityConfig
from salesflow.config.run import LiveConfig, RunConfig
from salesflow.config.settings import Settings
from salesflow.config.sources import (
    ApiSourceSpec,
    CollectorConfig,
    FieldSpec,
    FileSourceSpec,
    MappingSpec,
)
from salesflow.config.storage import LakeConfig, LandingConfig, WarehouseConfig
from salesflow.config.streaming import KafkaConfig, StreamConfig

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "FREE_FORM_MAPS",
    "AlertsConfig",
    "ApiSourceSpec",
    "CollectorConfig",
    "EngineConfig",
    "FieldSpec",
    "FileSourceSpec",
    "ForecastConfig",
    "GbmParams",
    "KafkaConfig",
    "LakeConfig",
    "LandingConfig",
    "LineageConfig",
    "LiveConfig",
    "MappingSpec",
    "PipelineConfig",
    "QualityConfig",
    "RunConfig",
    "Settings",
    "SparkConfig",
    "StreamConfig",
    "WarehouseConfig",
    "config_file_in_use",
    "load_settings",
]
