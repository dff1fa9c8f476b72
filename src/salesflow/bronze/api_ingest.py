"""Partner REST API -> ``bronze.events``, exactly once, resuming from a cursor committed with the rows.

A *sweep* walks the API's pages from a position. The poller's state says where the next request
goes (page, offset, cursor or next link), how many records of that answer are already in Bronze
(``skip``: an append-only API's last page fills up between runs) and the incremental watermark
(``since``, ``max_seen``). Every few pages the records and the state after them are one Bronze
commit; the state rides in the commit's metadata. A local copy of the state saves reading the
Delta log on every start; when the table is ahead of the copy (a crash after the commit), the
state is read back from the commit itself. So a restart neither skips nor repeats a record.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salesflow.bronze.external import committed_position, map_records, write_external
from salesflow.bronze.oversized import payload_limit
from salesflow.bronze.rows import BronzeBatch
from salesflow.common.files import atomic_write
from salesflow.config import Settings
from salesflow.config.sources import ApiSourceSpec
from salesflow.engine.base import EngineAdapter
from salesflow.errors import CheckpointError, ConfigError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.sources.api import ApiClient, Page, dig
from salesflow.sources.files import records_table

log = logging.getLogger(__name__)


@dataclass
class PollState:
    request: dict[str, Any] = field(default_factory=dict)
    """Where the next request goes: {"page": n} | {"offset": n} | {"cursor": c} | {"url": u}; {} = first page."""
    skip: int = 0
    since: Any = None
    max_seen: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"request": self.request, "skip": self.skip, "since": self.since, "max_seen": self.max_seen}


@dataclass
class ApiIngestor:
    """A Bronze source for the batch runner: one batch per ``pages_per_batch`` pages."""

    lake: Lake
    engine: EngineAdapter
    settings: Settings
    name: str
    client: ApiClient | None = None
    pages: int = 0
    records: int = 0

    def __post_init__(self) -> None:
        if self.name not in self.settings.apis:
            known = ", ".join(sorted(self.settings.apis)) or "none configured"
            raise ConfigError(f"no API source named {self.name!r} (apis.{self.name} in the config; known: {known})")
        self.spec: ApiSourceSpec = self.settings.apis[self.name]
        self.source, self.app_id = f"api:{self.name}", f"salesflow.bronze.api.{self.name}"
        self.state_path = self.settings.checkpoint_dir / f"api-{self.name}.json"
        self.http = self.client or ApiClient(self.name, self.spec)

    def batches(self) -> Iterator[BronzeBatch]:
        state = self._load_state()
        try:
            while True:
                clock = time.perf_counter()
                records, state, more = self._sweep_step(state)
                if records:
                    write = self._write(records, state)
                    yield BronzeBatch(write.batch_id, (self.source,), write.rows, write.written, None,
                                      time.perf_counter() - clock)
                else:
                    self._save(self.lake.txn_version(BRONZE_EVENTS, self.app_id), state)
                if not more:
                    return
        finally:
            if self.client is None:
                self.http.close()

    # -- one step: up to pages_per_batch pages ---------------------------------------------
    def _sweep_step(self, state: PollState) -> tuple[list[Any], PollState, bool]:
        records: list[Any] = []
        for _ in range(self.spec.pages_per_batch):
            page = self._fetch(state)
            self.pages += 1
            fresh = page.records[state.skip:]
            records.extend(fresh)
            state, more = self._advance(state, page, fresh)
            if not more:  # the sweep ended: the next run starts from this state
                return records, state, False
        return records, state, True

    def _fetch(self, state: PollState) -> Page:
        p = self.spec.pagination
        params: dict[str, Any] = dict(self.spec.params)
        if state.request.get("url"):
            return self.http.get(state.request["url"], None)
        if self.spec.incremental_field and state.since is not None:
            params[self.spec.incremental_param] = state.since
        if p.style == "page":
            params |= {p.page_param: state.request.get("page", p.first_page), p.size_param: p.page_size}
        elif p.style == "offset":
            params |= {p.offset_param: state.request.get("offset", 0), p.size_param: p.page_size}
        elif p.style == "cursor":
            params[p.size_param] = p.page_size
            if state.request.get("cursor"):
                params[p.cursor_param] = state.request["cursor"]
        else:
            params[p.size_param] = p.page_size
        return self.http.get(self.spec.url, params)

    def _advance(self, state: PollState, page: Page, fresh: list[Any]) -> tuple[PollState, bool]:
        """The state after this page, and whether the sweep goes on to a next page."""
        p = self.spec.pagination
        max_seen = _max(state.max_seen, [dig(r, self.spec.incremental_field) for r in fresh]
                        if self.spec.incremental_field else [])
        nxt: dict[str, Any] | None = None
        if p.style == "page" and len(page.records) >= p.page_size:
            nxt = {"page": state.request.get("page", p.first_page) + 1}
        elif p.style == "offset" and len(page.records) >= p.page_size:
            nxt = {"offset": state.request.get("offset", 0) + len(page.records)}
        elif p.style == "cursor":
            cursor = dig(page.body, p.next_cursor_path)
            if cursor and cursor != state.request.get("cursor") and page.records:
                nxt = {"cursor": cursor}
        elif p.style == "link" and page.next_link:
            nxt = {"url": page.next_link}
        if nxt is not None:
            return PollState(nxt, 0, state.since, max_seen), True
        if self.spec.incremental_field:  # sweep done: the next sweep asks only for newer records
            return PollState({}, 0, max_seen if max_seen is not None else state.since, max_seen), False
        # No watermark: stay on this last page and remember how much of it is in Bronze.
        here = {"url": page.url} if p.style == "link" else dict(state.request)
        return PollState(here, len(page.records), state.since, max_seen), False

    # -- writes and state -----------------------------------------------------------------
    def _write(self, records: list[Any], state: PollState) -> Any:
        table = records_table([(i + 1, r if isinstance(r, dict) else None, json.dumps(r))
                               for i, r in enumerate(records)])
        mapped = map_records(self.engine, self.spec, self.source, self.settings.pipeline, table)
        write = write_external(self.lake, self.engine, self.settings.checkpoint_dir, app_id=self.app_id,
                               source=self.source, source_file=self.spec.url,
                               position_prefix=None, mapped=mapped,
                               position=state.as_dict(), limit=payload_limit(self.settings))
        assert write is not None  # no already_in check: the cursor itself prevents re-reads  # noqa: S101 - type narrowing
        self.records += write.rows
        self._save(write.batch_id, state)
        return write

    def _load_state(self) -> PollState:
        committed = self.lake.txn_version(BRONZE_EVENTS, self.app_id)
        local = _read_json(self.state_path)
        if local is not None and local["batch_id"] == committed:
            return PollState(**local["state"])
        if committed < 0:
            return PollState()
        # The table is ahead of (or without) the local copy: the commit itself holds the state.
        position = committed_position(self.lake, self.app_id, committed)
        if position is None:
            raise CheckpointError(f"api {self.name}: Bronze has batch {committed} of {self.app_id} but its commit "
                                  f"info is gone (Delta log cleaned up?) and {self.state_path} is stale")
        log.warning("api %s: local state is behind Bronze; resuming from batch %d's committed cursor",
                    self.name, committed)
        return PollState(**position)

    def _save(self, batch_id: int, state: PollState) -> None:
        atomic_write(self.state_path, json.dumps({"batch_id": batch_id, "state": state.as_dict()}).encode())


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _max(current: Any, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if current is not None:
        present.append(current)
    if not present:
        return None
    try:
        return max(present)
    except TypeError:  # mixed types: compare as text (ISO timestamps and zero-padded ids sort right)
        return max(present, key=str)
