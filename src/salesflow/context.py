"""One run context per command: settings, lake, engines, run id, quality gates and alerter.

Every job (``salesflow.jobs``) takes a ``RunContext``; the CLI builds one in its group callback,
the supervisor and the Python API build their own, and no job opens a lake or an engine or mints
a run id by itself. A context is cheap: the lake opens on first use, engines when asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

from salesflow.common.extras import check
from salesflow.config import Settings, load_settings
from salesflow.engine import create_engine
from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.storage import open_lake
from salesflow.quality import QualityGate, WebhookAlerter, alerter_for, make_gate


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class RunContext:
    settings: Settings
    config_file: Path | None = None
    """The file the settings were read from, for child processes that must read the same."""
    run_id: str = field(default_factory=new_run_id)
    overrides: dict[str, object] = field(default_factory=dict)
    """Settings given by the caller (CLI flags, API arguments), for ``config show``'s sources."""

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: object) -> RunContext:
        return cls(load_settings(config_file, **overrides), config_file, overrides=overrides)

    @cached_property
    def lake(self) -> Lake:
        return open_lake(self.settings)

    def lake_as_of(self, instant: datetime | None) -> Lake:
        """The lake read as it was at ``instant`` (read-only), or the live lake for None."""
        return self.lake if instant is None else open_lake(self.settings, as_of=instant)

    @contextmanager
    def engine(self) -> Iterator[EngineAdapter]:
        """An engine for this command, closed when the block ends."""
        with create_engine(self.settings) as engine:
            yield engine

    @cached_property
    def alerter(self) -> WebhookAlerter:
        return alerter_for(self.settings)

    def gate(self, engine: EngineAdapter, layer: str) -> QualityGate:
        """The quality gate of ``layer`` for this run, on ``engine``."""
        return make_gate(engine, self.settings, layer, self.run_id, self.alerter)

    def with_settings(self, settings: Settings) -> RunContext:
        """The same command with other settings (a pinned warehouse, a scratch data dir)."""
        return RunContext(settings, self.config_file, self.run_id, self.overrides)


def as_context(target: RunContext | Settings) -> RunContext:
    """Jobs accept plain settings too (the Python API, tests): a context is built around them."""
    return target if isinstance(target, RunContext) else RunContext(target)


def check_extras(settings: Settings) -> None:
    """Fail before any work when the settings ask for a feature whose extra is not installed, rather
    than after Bronze has committed or on the first batch that happens to need it."""
    wants = [
        (settings.engine.name == "spark", "pyspark", "engine.name = 'spark'"),
        (settings.run.source == "kafka", "confluent_kafka", "run.source = 'kafka'"),
        (settings.collector.sink == "kafka", "confluent_kafka", "collector.sink = 'kafka'"),
        (settings.live.sink == "redis", "redis", "live.sink = 'redis'"),
        (settings.lineage.url is not None or settings.lineage.file is not None, "openlineage",
         "lineage.url / lineage.file"),
        (settings.warehouse.url is not None, "psycopg", "a PostgreSQL warehouse.url"),
    ]
    for wanted, module, purpose in wants:
        if wanted:
            check(module, purpose)
