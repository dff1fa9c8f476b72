"""A source's Bronze steps on a worker thread, one batch ahead of Silver and Gold.

Used by the landing and Kafka ingestors. Each step is the source's whole protocol (plan, write,
commit, under the Bronze lock), and the one worker runs them in turn, so the commits and the
checkpoint advance exactly as they do one at a time. A batch is handed over as soon as its rows
exist, while its commit is written (``BronzeBatch.commit``): the consumer computes on them and
waits for ``durable()`` before writing anything. The worker lasts while batches keep coming: once
a step finds nothing new it goes, with the second engine connection and the rows it held.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from salesflow.bronze.rows import BronzeBatch
from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake

log = logging.getLogger(__name__)

Step = Callable[[Lake, EngineAdapter, "Future[BronzeBatch] | None"], "BronzeBatch | None"]
"""One batch of the source's protocol on this lake and engine; it may hand its rows over early
through the future. None: nothing new."""


class IngestAhead:
    def __init__(self, lake: Lake, engine: EngineAdapter, step: Step) -> None:
        self.lake, self.engine, self.step = lake, engine, step
        self._ahead: tuple[Future[BronzeBatch | None], Future[BronzeBatch]] | None = None
        """The step in flight on the worker, and where it hands its rows over before committing."""
        self._worker: tuple[ThreadPoolExecutor, Lake, EngineAdapter] | None = None
        self._last: Future[BronzeBatch | None] | None = None
        """The step submitted last (it may still be committing the batch handed over before)."""
        self.closing = threading.Event()
        """Set when the consumer stops: a step still waiting for its source's first record gives up."""
        self.wanted = threading.Event()
        """Set while the consumer waits for the step in flight: a source that can keep gathering
        (Kafka) closes its batch then, so a batch polled ahead holds what arrived meanwhile."""

    def batches(self) -> Iterator[BronzeBatch]:
        try:
            while True:
                if self._ahead is None:
                    self._submit()
                batch = self._collect() if self._ahead is not None else self.step(self.lake, self.engine, None)
                if batch is None:
                    return
                self._submit()  # queued behind the commit in flight
                yield batch
        finally:
            self._settle()

    def _submit(self) -> None:
        if self._worker is None:
            engine = self.engine.for_thread()
            if engine is None:  # the engine cannot run a second model at once: stay in step
                return
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-ahead")
            self._worker = (pool, self.lake.sibling(), engine)
        pool, lake, engine = self._worker
        handover: Future[BronzeBatch] = Future()
        self.wanted.clear()
        self._last = pool.submit(self._after, self._last, lake, engine, handover)
        self._ahead = (self._last, handover)

    def _after(self, before: Future[BronzeBatch | None] | None, lake: Lake, engine: EngineAdapter,
               handover: Future[BronzeBatch]) -> BronzeBatch | None:
        if before is not None and before.exception() is not None:
            return None  # the step before failed: its consumer stops, and the next run recovers
        return self.step(lake, engine, handover)

    def _collect(self) -> BronzeBatch | None:
        """The next batch: its rows as soon as the step has them, else what the step returned."""
        assert self._ahead is not None  # noqa: S101 - type narrowing
        (step, handover), self._ahead = self._ahead, None
        futures: list[Future[Any]] = [step, handover]
        self.wanted.set()
        wait(futures, return_when=FIRST_COMPLETED)
        if handover.done():
            return replace(handover.result(), commit=step)
        return step.result()  # its failure (a transient outage, say) is this step's failure

    def _settle(self) -> None:
        """A stop (or a failure downstream) waits for the step in flight: it either commits whole
        or leaves its batch pending in the checkpoint, which the next run recovers."""
        self.closing.set()
        if self._ahead is not None:
            step, self._ahead = self._ahead[0], None
            try:
                step.result()
            except Exception as exc:  # noqa: BLE001 - the batch stays pending; the next run redoes it
                log.warning("bronze step ahead did not complete (%s); its batch stays pending", exc)
        if self._worker is not None:
            pool, _, engine = self._worker
            self._worker, self._last = None, None
            pool.shutdown()
            engine.close()
