"""Source checkpoints: the offsets log of a source, written ahead of each Bronze commit.

The protocol (as in Spark's offsets/commits logs):

1. Plan: record ``pending = {batch_id, segments}`` before writing anything.
2. Write Bronze with the Delta application transaction ``(app_id, batch_id)``.
3. Commit: move the pending segments into ``segments`` and clear ``pending``.

A crash after step 1 redoes the same batch with the same segments; the table's transaction
version says whether step 2 already happened, so the write is never applied twice. If the file
itself is lost, the Bronze table is the record: its ``source_file`` column lists what it holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from salesflow.common.files import atomic_write


@dataclass
class PendingBatch:
    batch_id: int
    segments: list[str]


@dataclass
class SourceCheckpoint:
    path: Path
    batch_id: int = -1
    """Last batch committed to Bronze by this source."""
    segments: set[str] = field(default_factory=set)
    pending: PendingBatch | None = None

    @classmethod
    def load(cls, path: Path) -> SourceCheckpoint:
        if not path.exists():
            return cls(path)
        state = json.loads(path.read_text())
        pending = state.get("pending")
        return cls(
            path, batch_id=state["batch_id"], segments=set(state["segments"]),
            pending=PendingBatch(**pending) if pending else None,
        )

    def plan(self, batch_id: int, segments: list[str]) -> PendingBatch:
        self.pending = PendingBatch(batch_id, segments)
        self.save()
        return self.pending

    def commit(self) -> None:
        assert self.pending is not None, "commit without a planned batch"  # noqa: S101 - type narrowing
        self.batch_id = self.pending.batch_id
        self.segments |= set(self.pending.segments)
        self.pending = None
        self.save()

    def reset_to(self, batch_id: int, segments: set[str]) -> None:
        """Rebuild from the table when the file is missing or behind it."""
        self.batch_id, self.segments, self.pending = batch_id, segments, None
        self.save()

    def save(self) -> None:
        state = {
            "batch_id": self.batch_id,
            "segments": sorted(self.segments),
            "pending": vars(self.pending) if self.pending else None,
        }
        atomic_write(self.path, json.dumps(state, indent=1).encode())
