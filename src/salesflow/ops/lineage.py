"""OpenLineage events for every job run (``lineage.url`` / ``lineage.file``), with the
``openlineage-python`` client, so lineage tools (Marquez, DataHub) see salesflow's jobs and the
tables each reads and writes.

A job run sends START, then COMPLETE or FAIL (with the error message). Lineage is a by-product:
a backend that is down or slow costs at most ``lineage.timeout_seconds`` a event and a warning
in the log; it never fails the job.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from salesflow.common.extras import require
from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.redact import redact

log = logging.getLogger(__name__)
PRODUCER = "https://github.com/salesflow/salesflow"
P = ParamSpec("P")
R = TypeVar("R")

LANDING = "landing.segments"
BRONZE = ("bronze.events",)
SILVER = ("silver.orders", "silver.order_lines", "silver.product_views", "silver.cart_adds", "silver.quarantine",
          "silver.duplicates")
GOLD = ("gold.sales_by_window", "gold.daily_sales", "gold.category_revenue", "gold.funnel_daily")
WAREHOUSE = ("warehouse.dim_date", "warehouse.dim_customer", "warehouse.dim_product", "warehouse.dim_store",
             "warehouse.fact_sales")
PIPELINE = (*BRONZE, *SILVER, *GOLD)


def traced(job: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a job (its first argument is its context or settings) in a lineage run."""

    def wrap(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            target = args[0]
            assert isinstance(target, RunContext | Settings)  # noqa: S101 - every job's first argument
            with lineage_run(as_context(target).settings, job, inputs, outputs):
                return func(*args, **kwargs)

        return run

    return wrap


@contextmanager
def lineage_run(settings: Settings, job: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Iterator[None]:
    emitters = _emitters(settings)
    if not emitters:
        yield
        return
    run_id = str(uuid.uuid4())
    _send(emitters, _event(settings, "START", run_id, job, inputs, outputs))
    try:
        yield
    except BaseException as exc:
        _send(emitters, _event(settings, "FAIL", run_id, job, inputs, outputs, redact(f"{type(exc).__name__}: {exc}")))
        raise
    _send(emitters, _event(settings, "COMPLETE", run_id, job, inputs, outputs))


def _emitters(settings: Settings) -> list[Any]:
    config = settings.lineage
    if config.url is None and config.file is None:
        return []
    require("openlineage.client", "lineage.url / lineage.file")
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    clients = []
    if config.file is not None:
        Path(config.file).parent.mkdir(parents=True, exist_ok=True)
        clients.append(OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=config.file, append=True))))
    if config.url is not None:
        http = HttpConfig(url=config.url, timeout=config.timeout_seconds,
                          retry={"total": 1, "connect": 1, "read": 1, "backoff_factor": 0.1,
                                 "status_forcelist": [502, 503, 504], "allowed_methods": ["POST"]})
        clients.append(OpenLineageClient(transport=HttpTransport(http)))
    return clients


def _event(settings: Settings, state: str, run_id: str, job: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
           error: str | None = None) -> Any:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run

    facets: dict[str, Any] = {} if error is None else {
        "errorMessage": error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage="python")}
    return RunEvent(eventType=RunState[state], eventTime=datetime.now(UTC).isoformat(), producer=PRODUCER,
                    run=Run(runId=run_id, facets=facets),
                    job=Job(namespace=settings.lineage.namespace, name=f"salesflow.{job}"),
                    inputs=[InputDataset(namespace=_namespace(settings, name), name=name) for name in inputs],
                    outputs=[OutputDataset(namespace=_namespace(settings, name), name=name) for name in outputs])


def _namespace(settings: Settings, dataset: str) -> str:
    """Where a dataset lives, as OpenLineage names it: the lake's URI, the landing directory, the
    warehouse (its URL without credentials, or the DuckDB file)."""
    if dataset.startswith("landing."):
        return f"file://{settings.landing_dir.resolve()}"
    if dataset.startswith("warehouse."):
        url = settings.warehouse.url
        if url is None:
            return f"duckdb://{settings.warehouse_path.resolve()}"
        parts = urlsplit(url.get_secret_value())  # host and port only: never the credentials
        return f"postgres://{parts.hostname}:{parts.port or 5432}"
    root = settings.lake_root
    return root if "://" in root else f"file://{Path(root).resolve()}"


def _send(emitters: list[Any], event: Any) -> None:
    for client in emitters:
        try:
            client.emit(event)
        except Exception as exc:  # a lineage backend must never fail the job it describes
            log.warning("lineage event not sent: %s", redact(str(exc)))
