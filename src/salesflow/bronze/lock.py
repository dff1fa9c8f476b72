"""One Bronze writer at a time per data directory.

Bronze batch ids are global across sources (Silver slices Bronze by batch id and commits them in
order), so choosing the next id and committing it must not interleave between processes: the
stream, a partner-file load and an API poll may all run at once. An advisory ``flock`` on a file
beside the checkpoints serialises "pick id, write, commit" and is released by the kernel if the
holder dies, so a SIGKILL never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def bronze_lock(checkpoint_dir: Path) -> Iterator[None]:
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(checkpoint_dir / "bronze.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor drops the lock
