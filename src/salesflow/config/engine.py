"""Which engine runs the models, and Spark's settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from salesflow.config.section import Section


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
    max_files_per_trigger: int | None = Field(None, ge=1)
    """Landing segments per Structured Streaming micro-batch. Default: none, the micro-batch is
    bounded by bytes instead, ``pipeline.max_batch_bytes`` (2 GiB on Spark), as the batch runner's
    Bronze batches are."""
    delta: Literal["commit", "native"] = "commit"
    """How the Spark engine reads and writes Delta tables. ``commit``: executors read the pinned
    snapshot's Parquet files and write new ones, the driver commits their add/remove actions with
    delta-rs (no jars needed). ``native``: delta-spark's ``format("delta")`` with the
    ``txnAppId``/``txnVersion`` options, for clusters that have the delta-spark jars
    (``packages: [io.delta:delta-spark_2.13:<version>]``)."""
    duckdb_models: list[str] = ["silver.parsed_events", "silver.parsed_lines"]
    """Row-wise models the executors run with DuckDB in their Python workers, on each partition's
    rows, instead of as Spark SQL (salesflow.engine.spark_duckdb): the same model text, so the same
    rows. Silver's JSON parse is the one that pays (bench/RESULTS.md); parsed_lines reads the
    order lines it keeps as JSON text, which only DuckDB may read (Spark's parser refuses a
    repeated key the model judges itself), so the two go together. ``[]`` runs every model as
    Spark SQL (executors then need no duckdb). A model here that is not row-wise is refused."""
    log_level: str = "ERROR"
    keep_session: bool = False
    """Leave the SparkSession running when an engine closes (tests share one session)."""
