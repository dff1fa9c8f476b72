"""One Bronze writer at a time per data directory.

Bronze batch ids are global across sources (Silver slices Bronze by batch id and commits them in
order), so choosing the next id and committing it must not interleave between processes: the
stream, a partner-file load and an API poll may all run at once. An advisory ``flock`` on a file
beside the checkpoints serialises "pick id, write, commit" and is released by the kernel if the
holder dies, so a SIGKILL never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def bronze_lock(checkpoint_dir: Path) -> Iterator[None]:
    """Hold the Bronze lock for a block. A writer that has to wait says once whom it waits for
    (pid, command, since when), so a stuck-looking load names the process to look at."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(checkpoint_dir / "bronze.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            began = time.monotonic()
            log.warning("waiting for the Bronze lock at %s, held by %s", checkpoint_dir / "bronze.lock",
                        lock_holder(checkpoint_dir))
            fcntl.flock(fd, fcntl.LOCK_EX)
            log.info("got the Bronze lock after %.1f s", time.monotonic() - began)
        _write_holder(fd)
        yield
    finally:
        os.close(fd)  # closing the descriptor drops the lock


def lock_holder(checkpoint_dir: Path) -> str:
    """Who holds (or last held) the Bronze lock, as its holder wrote it."""
    try:
        state = json.loads((checkpoint_dir / "bronze.lock").read_text() or "{}")
        return f"pid {state['pid']} ({state['command']}) since {state['since']}"
    except (OSError, ValueError, KeyError):
        return "a process that did not say who it is"


def _write_holder(fd: int) -> None:
    # The program and its command words only: options may carry values that are nobody's business.
    words = [os.path.basename(sys.argv[0])] + [a for a in sys.argv[1:] if not a.startswith("-")][:2]
    since = datetime.now(UTC).isoformat(timespec="seconds")
    record = json.dumps({"pid": os.getpid(), "command": " ".join(words), "since": since})
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode(), 0)
