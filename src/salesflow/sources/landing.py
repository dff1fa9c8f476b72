"""The landing log: a directory of immutable JSON Lines segments, the embedded stand-in for a broker.

Writers create each segment under a temporary name, fsync it and rename it into place, so a
reader never sees half a file. Segment names sort in write order. Reference data lives beside the
events under ``reference/`` and is replaced atomically as a whole file.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from salesflow.common.files import atomic_write
from salesflow.common.lines import line_array

SEGMENT_SUFFIX = ".jsonl"
SOURCE_TAG = "~"
REFERENCE_DIR = "reference"


@dataclass(frozen=True)
class Segment:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def source(self) -> str:
        """Who wrote it: ``landing`` (the simulator, files dropped in) or the tag after ``~``."""
        stem = self.path.name[: -len(SEGMENT_SUFFIX)]
        return stem.partition(SOURCE_TAG)[2] or "landing"

    def read_array(self) -> pa.BinaryArray:
        """The segment's records, one per line without the newline (a trailing empty line is none),
        as one Arrow array: split without a Python object per line."""
        return line_array(self.path.read_bytes())


class LandingLog:
    def __init__(self, root: Path) -> None:
        self.root = root

    def segments(self) -> list[Segment]:
        if not self.root.exists():
            return []
        return [Segment(p) for p in sorted(self.root.glob(f"*{SEGMENT_SUFFIX}"))]

    def append(self, lines: Iterable[bytes], source: str | None = None) -> Segment | None:
        """Write one segment atomically; returns None when there was nothing to write.

        ``source`` tags the segment's records in Bronze (for example ``collector``)."""
        body = b"".join(line + b"\n" for line in lines)
        if not body:
            return None
        tag = f"{SOURCE_TAG}{source}" if source else ""
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):06d}{tag}{SEGMENT_SUFFIX}"
        path = self.root / name
        atomic_write(path, body)
        return Segment(path)

    def write_segments(self, lines: Iterable[bytes], per_segment: int) -> Iterator[Segment]:
        """Split a stream of lines into segments of ``per_segment`` lines."""
        iterator = iter(lines)
        while chunk := list(itertools.islice(iterator, per_segment)):
            segment = self.append(chunk)
            if segment is not None:
                yield segment

    def reference_path(self, name: str) -> Path:
        return self.root / REFERENCE_DIR / f"{name}{SEGMENT_SUFFIX}"

    def write_reference(self, name: str, lines: Iterable[bytes]) -> Path:
        path = self.reference_path(name)
        atomic_write(path, b"".join(line + b"\n" for line in lines))
        return path


_counter = itertools.count()
