"""How records become Silver rows: batch sizes, lateness, dedupe and the contract's plausibility bounds."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, Field

from salesflow.config.section import IanaZone, Section
from salesflow.contract.bounds import (
    EARLIEST_EVENT_TIME,
    MAX_AMOUNT,
    MAX_FUTURE_SECONDS,
    MAX_QUANTITY,
    Bounds,
)

IN_PROCESS_BATCH_BYTES = 192 * 1024 * 1024
EXECUTOR_BATCH_BYTES = 2 * 1024 * 1024 * 1024


class PipelineConfig(Section):
    max_payload_bytes: int = Field(1_048_576, ge=1024)
    """Records larger than this are quarantined as ``payload_too_large``; Bronze keeps them by
    reference (length, SHA-256, first characters), not whole."""
    keep_oversized_payloads: bool = False
    """Also keep the full bytes of such records, one file per content under ``<data_dir>/oversized``."""
    max_batch_bytes: int | None = Field(None, ge=1)
    """Landing bytes per Bronze batch (whole segments, at least one). Default: 192 MiB where the
    engine keeps a batch's rows in this process (DuckDB), which bounds its memory; 2 GiB where
    executors keep them and spill what their memory does not hold (Spark). A batch has a fixed cost
    whatever its size (queries, checks, commits; on Spark some forty jobs), so larger batches catch
    up faster for more peak memory (the trade measured in bench/RESULTS.md). Partner files are read
    in this process whatever the engine: their batches take the first default."""
    allowed_lateness_seconds: int = Field(600, ge=0)
    """Events older than the watermark minus this are counted as late."""
    dedupe_horizon_hours: float = Field(72.0, gt=0)
    """How far back (by event time) a repeated event_id/order_id is still caught as a duplicate."""
    reporting_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    """Orders in another currency are quarantined as ``unsupported_currency``."""
    reporting_timezone: IanaZone = "UTC"
    """The zone whose calendar days are ``event_date``: every daily and monthly figure (Silver's
    partitions, Gold, the warehouse's dates, the analytics, the forecast) follows it. Stored times
    stay UTC. Choose it before the first load: a lake's days are not restated when it changes."""
    earliest_event_time: AwareDatetime = EARLIEST_EVENT_TIME
    """Events before this are quarantined as ``implausible_time`` (and refused by the collector)."""
    quarantine_processing_errors: bool = True
    """A batch a SQL model fails on because of a value (not the machine) goes to quarantine whole
    as ``processing_error`` and the stage goes on; false: the stage stops on it, as before."""
    max_future_seconds: int = Field(MAX_FUTURE_SECONDS, ge=0)
    """Events more than this after their arrival are ``implausible_time``."""
    max_quantity: int = Field(MAX_QUANTITY, ge=1, le=10**9)
    """Units of one order line or cart event at most (``implausible_quantity``)."""
    max_amount: Decimal = Field(MAX_AMOUNT, gt=0, le=Decimal(10**12))
    """A unit price or an order's total at most (``implausible_amount``). With the quantity bound it
    keeps every line, order and Gold day inside the lake's DECIMAL(18, 2) columns."""

    def batch_bytes(self, *, in_process: bool = True) -> int:
        """Landing bytes per Bronze batch for an engine that keeps rows ``in_process`` or not."""
        if self.max_batch_bytes is not None:
            return self.max_batch_bytes
        return IN_PROCESS_BATCH_BYTES if in_process else EXECUTOR_BATCH_BYTES

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.earliest_event_time, self.max_future_seconds, self.max_quantity, self.max_amount)
