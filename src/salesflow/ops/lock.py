"""One ``salesflow run`` per data directory.

Two supervisors on one lake would both stream and both load the warehouse; the Delta
transactions keep the data correct, but the work would be doubled and the checkpoints fought
over. An advisory ``flock`` (released by the kernel when the holder dies, so a SIGKILL never
leaves a stale lock) guards it; the file says who holds it, for the error message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from salesflow.errors import TerminalError


class AlreadyRunning(TerminalError):
    exit_code = 3


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ".salesflow-run.lock"
        self.fd: int | None = None

    def __enter__(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise AlreadyRunning(f"another `salesflow run` holds {self.path.parent} ({holder}); stop it first, "
                                 f"or give this one another --data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode())
        self.fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _read_holder(fd: int) -> str:
    try:
        state = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {state['pid']} on {state['host']} since {state['since']}"
    except (ValueError, KeyError, OSError):
        return "holder unknown"
