"""A real S3-compatible server for tests: moto_server on loopback with IAM auth on, behind a TCP
proxy that can cut the endpoint off (a real outage: connections refused and dropped).

Every use of an ``s3://`` lake runs in a child process (the salesflow CLI, or ``python -m
tests.s3_dump``): a process that used delta-rs against S3 can abort at interpreter exit, so the
test process itself never touches the bucket through delta-rs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salesflow.common.processes import free_port, stop_process, wait_listening

MOTO = Path(sys.executable).parent / "moto_server"


class OutageProxy:
    """Forwards 127.0.0.1:port to the upstream; ``down`` refuses new and drops open connections."""

    def __init__(self, upstream: int) -> None:
        self.upstream, self.down = upstream, threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.down.set()
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self) -> None:
        self.down.clear()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if self.down.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with self._lock:
                    self._open.discard(sock)
                try:
                    sock.close()
                except OSError:
                    pass


@dataclass
class S3:
    endpoint: str
    """The proxy's URL: what salesflow is configured with."""
    access_key: str
    secret_key: str
    proxy: OutageProxy
    buckets: list[str] = field(default_factory=list)

    def env(self, root: str, **extra: str) -> dict[str, str]:
        return {"SALESFLOW__LAKE__ROOT": root, "SALESFLOW__LAKE__ENDPOINT": self.endpoint,
                "SALESFLOW__LAKE__REGION": "us-east-1", "SALESFLOW__LAKE__ACCESS_KEY_ID": self.access_key,
                "SALESFLOW__LAKE__SECRET_ACCESS_KEY": self.secret_key, "SALESFLOW__LAKE__ALLOW_HTTP": "true",
                **extra}

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1")


@contextmanager
def s3_server(bucket: str = "lake") -> Iterator[S3]:
    import boto3

    port = free_port()
    # IAM on: the first three requests (creating the user, key and policy) go unauthenticated.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    process = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process, 30, "moto_server")
        url = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=url, aws_access_key_id="setup", aws_secret_access_key="setup",
                           region_name="us-east-1")
        iam.create_user(UserName="salesflow")
        key = iam.create_access_key(UserName="salesflow")["AccessKey"]
        iam.put_user_policy(UserName="salesflow", PolicyName="lake", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"], region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        proxy = OutageProxy(port)
        yield S3(f"http://127.0.0.1:{proxy.port}", key["AccessKeyId"], key["SecretAccessKey"], proxy, [bucket])
    finally:
        stop_process(process, timeout=10)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any SALESFLOW setting, plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SALESFLOW")}, **(extra or {})}


def salesflow(data_dir: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process (with the test's clean environment plus ``env``)."""
    return subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, env=child_env(env), timeout=timeout, check=False)


def dump(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Fingerprints of every Silver and Gold table of a lake (local or s3://), from a child process."""
    done = subprocess.run([sys.executable, "-m", "tests.s3_dump", str(data_dir)], capture_output=True, text=True,
                          env=child_env(env), timeout=300, check=False,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]
