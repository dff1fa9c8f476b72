"""Lock contention names the holder (#28): a Bronze writer that has to wait says for whom."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from salesflow.bronze.lock import bronze_lock, lock_holder

HOLD = """
import os, sys
from pathlib import Path
from salesflow.bronze.lock import bronze_lock
with bronze_lock(Path(os.environ["LOCK_DIR"])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_waiting_writer_names_the_holder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="salesflow.bronze.lock")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "ingest-files"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "LOCK_DIR": str(tmp_path)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert f"pid {holder.pid} (-c ingest-files)" in lock_holder(tmp_path)
        def take_and_release() -> None:
            with bronze_lock(tmp_path):
                pass

        waiter = threading.Thread(target=take_and_release)
        waiter.start()  # blocks on the lock the holder keeps until we let it go
        deadline = time.monotonic() + 60
        while "waiting" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        said = f"waiting for the Bronze lock at {tmp_path / 'bronze.lock'}, held by pid {holder.pid} (-c ingest-files)"
        assert said in caplog.text
        assert waiter.is_alive()
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        waiter.join(60)
        assert not waiter.is_alive() and "got the Bronze lock" in caplog.text
    finally:
        holder.kill()
        holder.wait()
