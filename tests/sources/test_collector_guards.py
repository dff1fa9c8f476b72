"""The collector as an adversary meets it: closed without keys, slow clients cut, one client capped.

Every case runs the real server process (``salesflow collect``). Slow clients connect from another
loopback address (127.0.0.2) than the well-behaved one, as they would from another host.
"""

from __future__ import annotations

import ast
import inspect
import socket
import ssl
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from salesflow.collector import limits
from salesflow.common.processes import free_port
from salesflow.config import Settings
from tests.sources.test_collector import KEY, clean_events, collector

ATTACKER = "127.0.0.2"


def test_refuses_to_start_open_on_a_public_address_without_keys(tmp_path: Path, settings: Settings) -> None:
    port = free_port()
    base = [sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "collect", "--port", str(port)]
    refused = subprocess.run([*base, "--host", "0.0.0.0"], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "collector.api_keys is empty" in refused.stderr and "--insecure-no-auth" in refused.stderr
    assert "Traceback" not in refused.stderr

    # Loopback needs no key; --insecure-no-auth is the explicit way past the refusal.
    for host, extra in (("127.0.0.1", []), ("0.0.0.0", ["--insecure-no-auth"])):
        log = tmp_path / f"{host}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([*base, "--host", host, *extra], stdout=out, stderr=subprocess.STDOUT,
                                    cwd=tmp_path)
            try:
                from tests.http import wait_healthy

                wait_healthy(f"http://127.0.0.1:{port}/healthz", proc, log, 60)  # type: ignore[arg-type]
            finally:
                proc.kill()
                proc.wait()


def _slow_client(port: int) -> socket.socket:
    """Connected, nothing sent yet: the slowest client there is (it starts trickling when read)."""
    return socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(ATTACKER, 0))


def _answer_or_close(sock: socket.socket, trickle_every: float, give_up: float,
                     first: bytes = b"POST /v1/events HTTP/1.1\r\nHost: collector\r\nX-Slow: ") -> tuple[bytes, float]:
    """Trickle a request's header a byte at a time until the server answers and closes; (answer, when)."""
    sock.settimeout(trickle_every)
    pending, answer, started = first, b"", time.monotonic()
    while time.monotonic() - started < give_up:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            try:
                sock.sendall(pending[:1] or b"a")
                pending = pending[1:]
            except OSError:
                break
            continue
        except OSError:
            break
        if not chunk:
            break
        answer += chunk
    return answer, time.monotonic()


def test_slow_header_clients_are_cut_and_capped_while_others_keep_their_latency(tmp_path: Path,
                                                                               settings: Settings) -> None:
    header_timeout, per_client = 3.0, 8
    events = iter(clean_events(200))
    auth = {"Authorization": f"Bearer {KEY}"}
    with collector(tmp_path, settings.data_dir, header_timeout_seconds=header_timeout,
                   max_connections_per_client=per_client) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
            def latency() -> float:
                clock = time.perf_counter()
                assert client.post("/v1/events", json=next(events)).status_code == 200
                return time.perf_counter() - clock

            baseline = statistics.median(latency() for _ in range(30))
            slow = [(time.monotonic(), _slow_client(port)) for _ in range(3 * per_client)]
            during = statistics.median(latency() for _ in range(30))  # while the slow ones hold on
            deadline = time.monotonic() + 30 * header_timeout  # for all of them together
            outcomes = [(opened, *_answer_or_close(s, 0.2, max(0.0, deadline - time.monotonic())))
                        for opened, s in slow]
            for _, s in slow:
                s.close()
            assert client.post("/v1/events", json=next(events)).status_code == 200  # still serving

    refused = [a for _, a, _ in outcomes if a.startswith(b"HTTP/1.1 503")]
    cut = [closed - opened for opened, a, closed in outcomes if a.startswith(b"HTTP/1.1 408")]
    assert len(refused) == 2 * per_client, outcomes  # beyond the cap: refused at once
    assert len(cut) == per_client, outcomes  # within it: answered 408 once the deadline passed,
    assert min(cut) >= header_timeout - 0.05, cut  # not before, however the bytes trickled in
    assert during < baseline + 0.5, (baseline, during)


def test_a_stalled_body_is_cut_and_nothing_of_it_is_stored(tmp_path: Path, settings: Settings) -> None:
    event = clean_events(1)[0]
    body = httpx.Request("POST", "http://x", json=event).content
    with collector(tmp_path, settings.data_dir, body_timeout_seconds=1.0) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(ATTACKER, 0))
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body[: len(body) // 2])
        answer, _ = _answer_or_close(sock, trickle_every=30, give_up=30)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        health = httpx.get(f"{url}/metrics").text
    assert 'salesflow_collector_requests_total{code="200"}' not in health
    landing = settings.data_dir / "landing"
    stored = b"".join(p.read_bytes() for p in landing.rglob("*") if p.is_file()) if landing.exists() else b""
    assert event["event_id"].encode() not in stored


def test_api_keys_are_compared_in_constant_time_over_every_key() -> None:
    """The comparison stays hmac.compare_digest, the loop never returns early, no == on digests."""
    source = textwrap.dedent(inspect.getsource(limits.KeyRing.identify))
    tree = ast.parse(source)
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert "hmac.compare_digest" in calls
    loop = next(n for n in ast.walk(tree) if isinstance(n, ast.For))
    assert not any(isinstance(n, (ast.Return, ast.Break)) for n in ast.walk(loop))
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert all(isinstance(op, (ast.Is, ast.IsNot)) for c in compares for op in c.ops), ast.unparse(tree)
    ring = limits.KeyRing({"a": limits.hash_key("first"), "b": limits.hash_key("second")})
    assert [ring.identify(f"Bearer {k}") for k in ("first", "second", "third")] == ["a", "b", None]
    assert ring.identify(None) is None and ring.identify("Basic Zmlyc3Q=") is None


@pytest.mark.parametrize("host", ["::", "10.1.2.3", "collector.example", "0.0.0.0"])
def test_non_loopback_hosts_are_refused_without_keys(host: str) -> None:
    from salesflow.errors import ConfigError
    from salesflow.jobs.collector import _refuse_open_collector, is_loopback

    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="refusing"):
        _refuse_open_collector(host, has_keys=False, insecure_no_auth=False)
    _refuse_open_collector(host, has_keys=True, insecure_no_auth=False)
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost"))


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def test_the_collector_serves_https_with_its_own_certificate(tmp_path: Path, settings: Settings) -> None:
    import yaml

    from salesflow.collector.limits import hash_key

    cert, key = _self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    port = free_port()
    config = tmp_path / "tls.yaml"
    config.write_text(yaml.safe_dump({"collector": {"port": port, "api_keys": {"shop": hash_key(KEY)},
                                                    "ssl_certfile": str(cert), "ssl_keyfile": str(key)}}))
    log = tmp_path / "tls.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir",
                                 str(settings.data_dir), "collect"], stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            url = f"https://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", verify=trust, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.1)
            event = clean_events(1)[0]
            answer = httpx.post(f"{url}/v1/events", json=event, verify=trust,
                                headers={"Authorization": f"Bearer {KEY}"})
            assert answer.status_code == 200 and answer.json()["accepted"] == 1
            with pytest.raises(httpx.TransportError):  # plain HTTP on the TLS port gets nowhere
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).raise_for_status()
        finally:
            proc.kill()
            proc.wait()
