"""Where accepted events go, durably, before the client hears 2xx.

Group commit: events of requests that arrive together share one write and one fsync (or one
broker flush). A request waits for the flush that carries its events, so an acknowledged event
survives a SIGKILL right after the response, and throughput does not collapse to one fsync per
request under load.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from salesflow.common.extras import require
from salesflow.config import Settings
from salesflow.errors import TransientError
from salesflow.sources.landing import LandingLog

log = logging.getLogger(__name__)
COLLECTOR_SOURCE = "collector"


class SinkUnavailable(TransientError):
    """The landing disk or the broker did not take the events; the client should retry."""


@dataclass
class _Pending:
    lines: list[bytes]
    done: asyncio.Future[None]


class Sink(ABC):
    @abstractmethod
    def write_durably(self, lines: list[bytes]) -> None:
        """Blocking: return only once every line is on disk (fsync) or acknowledged by the broker."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class LandingSink(Sink):
    def __init__(self, landing: LandingLog) -> None:
        self.landing = landing

    def write_durably(self, lines: list[bytes]) -> None:
        self.landing.append(lines, source=COLLECTOR_SOURCE)  # write, fsync, rename, fsync the directory


class KafkaSink(Sink):
    def __init__(self, settings: Settings) -> None:
        from salesflow.sources.kafka import client_config

        Producer = require("confluent_kafka", "collector.sink = 'kafka'").Producer

        self.topic = settings.kafka.topic
        self.producer = Producer({**client_config(settings.kafka), "acks": "all", "enable.idempotence": True,
                                  "message.max.bytes": settings.collector.max_request_bytes + 1024})

    def write_durably(self, lines: list[bytes]) -> None:
        failed: list[str] = []

        def report(err: object, _msg: object) -> None:
            if err is not None:
                failed.append(str(err))

        for line in lines:
            self.producer.produce(self.topic, line, on_delivery=report)
            self.producer.poll(0)
        left = self.producer.flush(30)
        if left or failed:
            raise SinkUnavailable(f"kafka did not acknowledge {left + len(failed)} event(s): {failed[:1]}")

    def close(self) -> None:
        self.producer.flush(10)


@dataclass
class GroupCommitter:
    sink: Sink
    flush_seconds: float
    queue: asyncio.Queue[_Pending] = field(default_factory=asyncio.Queue)
    flushes: int = 0
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.sink.close)

    async def write(self, lines: list[bytes]) -> None:
        pending = _Pending(lines, asyncio.get_running_loop().create_future())
        await self.queue.put(pending)
        await pending.done

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await self.queue.get()]
            if self.flush_seconds:
                await asyncio.sleep(self.flush_seconds)  # let concurrent requests join this flush
            while not self.queue.empty():
                group.append(self.queue.get_nowait())
            lines = [line for item in group for line in item.lines]
            try:
                await loop.run_in_executor(None, self.sink.write_durably, lines)
                self.flushes += 1
                for item in group:
                    item.done.set_result(None)
            except Exception as exc:  # every waiting request must hear about it, whatever it was
                log.error("collector flush of %d event(s) failed: %s", len(lines), exc)
                for item in group:
                    item.done.set_exception(SinkUnavailable(str(exc)))
