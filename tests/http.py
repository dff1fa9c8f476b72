"""Waiting for a server the test started as a child process."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_healthy(url: str, proc: subprocess.Popen[str], log: Path, timeout: float) -> None:
    """Until ``url`` answers 200; fails with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while not answers(url):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
