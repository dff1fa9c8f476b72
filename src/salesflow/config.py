"""Typed configuration, loaded once.

Resolution order, highest first: explicit overrides (CLI flags), environment variables
``SALESFLOW__SECTION__KEY``, the YAML file (``--config``, ``$SALESFLOW_CONFIG`` or
``./salesflow.yaml``), then the defaults below. No file is needed for the embedded default.
Secrets are typed ``SecretStr`` and are only accepted from the environment, never from a file.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from salesflow.contract.bounds import (
    EARLIEST_EVENT_TIME,
    MAX_AMOUNT,
    MAX_FUTURE_SECONDS,
    MAX_QUANTITY,
    Bounds,
)
from salesflow.errors import ConfigError
from salesflow.redact import REDACTOR, is_secret_key, redact
from salesflow.sources.specs import ApiSourceSpec, CollectorConfig, FileSourceSpec

ENV_PREFIX = "SALESFLOW__"
CONFIG_ENV = "SALESFLOW_CONFIG"
DEFAULT_CONFIG_FILE = "salesflow.yaml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LakeConfig(Section):
    root: str | None = None
    """Root of the Delta lake: a local path (default ``<data_dir>/lake``) or an object-store URL,
    ``s3://bucket/prefix`` (AWS S3, MinIO, R2, any S3-compatible endpoint); ``gs://`` and
    ``az://``/``abfss://`` pass through to delta-rs with credentials from ``options``/environment."""
    endpoint: str | None = None
    """S3-compatible endpoint URL (MinIO: ``http://minio:9000``). Default: AWS."""
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    """Secret: environment only (SALESFLOW__LAKE__SECRET_ACCESS_KEY)."""
    session_token: SecretStr | None = None
    """Secret: environment only."""
    allow_http: bool = False
    """Allow a plain-HTTP endpoint (local MinIO)."""
    virtual_hosted_style: bool = False
    """``bucket.endpoint/key`` requests instead of path style ``endpoint/bucket/key``."""
    unsafe_rename: bool = False
    """Only for S3-compatible stores without conditional writes (If-None-Match): commit without
    them. Safe with one writer only; salesflow's Bronze lock is per machine."""
    max_retries: int = Field(8, ge=0)
    """Attempts per object-store request after the first (exponential backoff with jitter)."""
    retry_timeout_seconds: float = Field(60.0, gt=0)
    """Give up retrying one request after this long: an outage longer than this fails the step."""
    options: dict[str, str] = {}
    """Any further delta-rs / object_store storage option, passed through (not for secrets)."""


class LandingConfig(Section):
    path: str | None = None
    """Landing log directory (JSON Lines segments). Default: ``<data_dir>/landing``."""
    segment_records: int = Field(50_000, ge=1)
    """Records per landing segment file written by the simulator."""


class WarehouseConfig(Section):
    path: str | None = None
    """DuckDB warehouse file. Default: ``<data_dir>/warehouse.duckdb``."""
    url: SecretStr | None = None
    """PostgreSQL URL for the warehouse (secret: environment only)."""


class EngineConfig(Section):
    name: Literal["duckdb", "spark"] = "duckdb"
    """Engine adapter that runs the SQL models."""
    threads: int | None = Field(None, ge=1)
    """DuckDB worker threads. Default: all cores."""
    memory_limit: str | None = None
    """DuckDB memory limit, for example ``4GB``. Default: DuckDB's own (80% of RAM)."""


class SparkConfig(Section):
    master: str = "local[*]"
    """Spark master URL: ``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://...``."""
    app_name: str = "salesflow"
    shuffle_partitions: int = Field(8, ge=1)
    """spark.sql.shuffle.partitions (Spark's default of 200 is tuned for clusters, not batches)."""
    driver_memory: str = "2g"
    packages: list[str] = []
    """Maven coordinates for spark.jars.packages, e.g. the Kafka source on a cluster:
    ``org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.0``."""
    conf: dict[str, str] = {}
    """Any further Spark setting, passed through as is (s3a endpoint, executor memory ...)."""
    checkpoint_dir: str | None = None
    """Structured Streaming checkpoints of ``salesflow spark stream``. Default:
    ``<data_dir>/checkpoints/spark``."""
    max_files_per_trigger: int = Field(16, ge=1)
    """Landing segments per Structured Streaming micro-batch."""
    log_level: str = "ERROR"
    keep_session: bool = False
    """Leave the SparkSession running when an engine closes (tests share one session)."""


class PipelineConfig(Section):
    max_payload_bytes: int = Field(1_048_576, ge=1024)
    """Records larger than this are quarantined as ``payload_too_large``."""
    max_batch_bytes: int = Field(192 * 1024 * 1024, ge=1)
    """Landing bytes per Bronze batch (whole segments, at least one); bounds memory. A batch has
    about 0.2 s of work whatever its size (queries, checks, commits): on 2 cores 192 MiB caught
    up 2M events 4% faster than 128 MiB for 20% more peak memory (2.5 GiB)."""
    allowed_lateness_seconds: int = Field(600, ge=0)
    """Events older than the watermark minus this are counted as late."""
    dedupe_horizon_hours: float = Field(72.0, gt=0)
    """How far back (by event time) a repeated event_id/order_id is still caught as a duplicate."""
    reporting_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    """Orders in another currency are quarantined as ``unsupported_currency``."""
    earliest_event_time: AwareDatetime = EARLIEST_EVENT_TIME
    """Events before this are quarantined as ``implausible_time`` (and refused by the collector)."""
    max_future_seconds: int = Field(MAX_FUTURE_SECONDS, ge=0)
    """Events more than this after their arrival are ``implausible_time``."""
    max_quantity: int = Field(MAX_QUANTITY, ge=1, le=10**9)
    """Units of one order line or cart event at most (``implausible_quantity``)."""
    max_amount: Decimal = Field(MAX_AMOUNT, gt=0, le=Decimal(10**12))
    """A unit price or an order's total at most (``implausible_amount``). With the quantity bound it
    keeps every line, order and Gold day inside the lake's DECIMAL(18, 2) columns."""

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.earliest_event_time, self.max_future_seconds, self.max_quantity, self.max_amount)


class KafkaConfig(Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    """Comma-separated host:port list."""
    topic: str = "salesflow.events"
    group_id: str = "salesflow"
    """Consumer group; offsets are committed to it only after the Bronze commit."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    """PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 ..."""
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    """Secret: environment only (SALESFLOW__KAFKA__SASL_PASSWORD)."""
    ssl_ca_location: str | None = None
    extra: dict[str, str] = {}
    """Any further librdkafka setting, passed through as is."""
    max_batch_records: int = Field(50_000, ge=1)
    """Messages per micro-batch at most."""
    poll_timeout_seconds: float = Field(1.0, gt=0)
    """One wait for a micro-batch's first message. After it the batch takes what the client has
    already fetched and closes as soon as that runs dry."""
    max_batch_wait_seconds: float = Field(0.5, gt=0)
    """A micro-batch stops gathering this long after its first message at the latest: a client
    that fetches as fast as it is read would otherwise keep it open until max_batch_records."""
    idle_seconds: float = Field(2.0, gt=0)
    """With no message for this long the topic counts as drained (--available-now stops)."""


class StreamConfig(Section):
    trigger_seconds: float = Field(1.0, ge=0)
    """Pause between micro-batches when the source had nothing new."""
    maintenance_every_batches: int = Field(50, ge=1)
    """Compact small files, checkpoint the Delta log and vacuum after this many micro-batches."""
    retry_backoff_seconds: float = Field(1.0, gt=0)
    """First wait after a transient failure (object store or broker away); doubles, with jitter."""
    retry_max_seconds: float = Field(600.0, gt=0)
    """The stream stops with the error once consecutive transient failures have lasted this long."""
    vacuum_retention_hours: float = Field(168.0, ge=1)
    """Files younger than this are never vacuumed (readers and time travel keep working)."""


class QualityConfig(Section):
    enabled: bool = True
    """Run the expectation suites (contract checks and reconciliation always run)."""
    expectations_file: str | None = None
    """YAML of extra or overriding rules: layer -> table -> list of expectations."""
    sample_rows: int = Field(5, ge=0, le=100)
    """Violating rows kept per failed rule in ops.quality_results."""


class AlertsConfig(Section):
    webhook_url: SecretStr | None = None
    """Slack-compatible incoming webhook (secret: environment only)."""
    timeout_seconds: float = Field(5.0, gt=0)
    """Per attempt."""
    retries: int = Field(3, ge=0, le=10)
    """Further attempts after the first, with exponential backoff."""


class GbmParams(Section):
    n_estimators: int = Field(150, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(50, ge=1)
    max_bin: int = Field(63, ge=2)
    subsample: float = Field(0.6, gt=0, le=1)
    """Share of rows each tree sees (bagging): faster, and a little regularising."""
    objective: Literal["tweedie", "poisson", "regression"] = "tweedie"
    """Tweedie suits daily unit counts: many zeros, a long right tail."""


class ForecastConfig(Section):
    folds: int = Field(4, ge=1)
    """Rolling origins in the backtest."""
    fold_days: int = Field(7, ge=1)
    """Days scored after each origin."""
    min_train_days: int = Field(35, ge=14)
    """History needed before the first origin."""
    interval: float = Field(0.9, gt=0, lt=1)
    """Central coverage of the prediction intervals (from backtest residuals)."""
    ridge_alpha: float = Field(1.0, ge=0)
    gbm: GbmParams = GbmParams()
    registry: str | None = None
    """Model registry directory. Default: ``<data_dir>/models``."""


class RunConfig(Section):
    """``salesflow run``: the supervised main job."""

    stream: bool = True
    """Run the stream runner continuously beside the scheduled steps."""
    source: Literal["landing", "kafka"] = "landing"
    interval_seconds: float = Field(3600.0, gt=0)
    """Time between runs of the scheduled steps (the first run is at start)."""
    cron: str | None = None
    """Instead of the interval: a five-field cron expression in UTC, e.g. ``15 * * * *``."""
    steps: list[str] = ["quality", "warehouse", "forecast"]
    """In order: batch, quality, warehouse, forecast, or the name of one of ``commands``."""
    commands: dict[str, str] = {}
    """Extra steps as shell commands. Exit code 75 (EX_TEMPFAIL) is transient: retried."""
    retries: int = Field(3, ge=0)
    """Retries of a step after a transient failure, with exponential backoff."""
    backoff_seconds: float = Field(2.0, ge=0)
    max_backoff_seconds: float = Field(300.0, ge=0)
    metrics_port: int | None = Field(9464, ge=0, le=65535)
    """Prometheus ``/metrics`` on 127.0.0.1 (0: any free port, logged; null: off)."""
    dashboard: bool = False
    """Also serve the dashboard (``salesflow dashboard``) for as long as the job runs."""
    dashboard_port: int = Field(8501, ge=1, le=65535)


class LiveConfig(Section):
    """Where the dashboard's live numbers come from."""

    sink: Literal["lake", "redis"] = "lake"
    """``redis``: the stream also publishes the last hour of windows to Redis after each micro-batch."""
    redis_url: SecretStr | None = None
    """redis://host:port/db (secret: environment only, SALESFLOW__LIVE__REDIS_URL)."""
    key_prefix: str = "salesflow:live"
    ttl_seconds: int = Field(7200, ge=60)


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
        file_values = _read_config_file(_config_file_path())
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


_config_override: Path | None = None


def _config_file_path() -> Path | None:
    return config_file_in_use(_config_override)


def config_file_in_use(explicit: Path | None = None) -> Path | None:
    """The YAML file settings are read from: ``--config``, ``$SALESFLOW_CONFIG``, ``./salesflow.yaml``."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def _read_config_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    _reject_secrets_in_file(values, path)
    return values


def _secret_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _secret_keys(annotation, f"{prefix}{name}.")
        elif "SecretStr" in repr(annotation):
            keys.add(f"{prefix}{name}")
    return keys


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, never the offending text (it may hold a value that must not print)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def _reject_secrets_in_file(values: dict[str, Any], path: Path) -> None:
    for key in sorted(_secret_keys(Settings)):
        section, _, name = key.rpartition(".")
        holder = values.get(section, {}) if section else values
        if isinstance(holder, dict) and holder.get(name) is not None:
            env = ENV_PREFIX + key.replace(".", "__").upper()
            raise ConfigError(f"{key} is a secret: set it in ${env}, not in {path}")
    for where, mapping in _free_form_maps(values):
        for name in mapping if isinstance(mapping, dict) else ():
            if is_secret_key(str(name)):
                env = ENV_PREFIX + where.replace(".", "__").upper()
                raise ConfigError(f"{where}[{str(name)!r}] looks like a secret: it may not be in {path}; give "
                                  f"{where} in ${env} as a JSON object (secrets come from the environment only)")


FREE_FORM_MAPS = ("kafka.extra", "lake.options", "spark.conf")
"""Maps passed through to a client as they are; ``apis.<name>.headers`` and ``.params`` too."""


def _free_form_maps(values: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for dotted in FREE_FORM_MAPS:
        section, _, name = dotted.partition(".")
        holder = values.get(section)
        if isinstance(holder, dict) and name in holder:
            found.append((dotted, holder[name]))
    apis = values.get("apis")
    for api, spec in (apis.items() if isinstance(apis, dict) else ()):
        for name in ("headers", "params"):
            if isinstance(spec, dict) and name in spec:
                found.append((f"apis.{api}.{name}", spec[name]))
    return found


def _register_secrets(settings: Settings) -> None:
    """Every secret this process may hold, for the redaction layer (``salesflow.redact``)."""
    secrets: list[str | None] = []
    for section in Settings.model_fields:
        value = getattr(settings, section)
        if isinstance(value, BaseModel):
            secrets += [v.get_secret_value() for v in vars(value).values() if isinstance(v, SecretStr)]
    for api in settings.apis.values():
        secrets.append(os.environ.get(api.token_env) if api.token_env else None)
    maps = [mapping for _, mapping in _free_form_maps(settings.model_dump())]
    secrets += [value for mapping in maps for key, value in mapping.items() if is_secret_key(key)]
    REDACTOR.add(*secrets)
    REDACTOR.add_environment()


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the one Settings object; turn validation errors into a one-line ConfigError."""
    global _config_override
    _config_override = config_file
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _config_override = None
    _register_secrets(settings)
    return settings


def _describe(exc: ValidationError) -> str:
    """Key, rule and where to set it; never the value given (it may be a secret in the wrong place)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    key = ".".join(str(part) for part in first["loc"]) or "config"
    env = ENV_PREFIX + key.replace(".", "__").upper()
    return redact(f"config error: {key}: {first['msg']} (set {key} in the config file or ${env})")
