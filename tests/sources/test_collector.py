"""The HTTP collector as a real server process under concurrent load, then killed: nothing acknowledged is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from salesflow.collector.limits import hash_key
from salesflow.common.processes import free_port
from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, SILVER_EVENT_TABLES
from salesflow.simulator import DefectRates, SimulationSpec, build_catalog, simulate
from tests.http import wait_healthy
from tests.pipeline.lakeview import rows

KEY, OTHER_KEY = "key-" + uuid.uuid4().hex, "other-" + uuid.uuid4().hex
MAX_REQUEST = 64 * 1024


@contextmanager
def collector(tmp_path: Path, data_dir: Path, **collector_cfg: Any) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    config = tmp_path / f"collector-{port}.yaml"
    config.write_text(yaml.safe_dump({"collector": {
        "port": port, "api_keys": {"shop": hash_key(KEY), "other": hash_key(OTHER_KEY)},
        "max_request_bytes": MAX_REQUEST, "rate_per_second": 10_000, "burst": 10_000, **collector_cfg}}))
    log = open(tmp_path / f"collector-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir", str(data_dir),
                             "collect"], stdout=log, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/healthz", proc, tmp_path / f"collector-{port}.log", 60)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


def clean_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    spec = SimulationSpec(events=n, seed=seed, defects=DefectRates.none())
    return [json.loads(r.line) for r in simulate(spec, build_catalog(seed)) if r.event is not None]


def test_concurrent_mixed_load_then_sigkill_loses_nothing_acknowledged(tmp_path: Path, settings: Settings) -> None:
    events = iter(clean_events(3_000))
    auth = {"Authorization": f"Bearer {KEY}"}
    requests: list[tuple[str, dict[str, str], bytes, list[str]]] = []  # kind, headers, body, event ids
    for i in range(1_000):
        kind = ["single", "single", "array", "ndjson", "invalid", "oversized", "noauth", "badkey", "malformed",
                "single"][i % 10]
        if kind in ("single", "noauth", "badkey"):
            event = next(events)
            headers = {} if kind == "noauth" else {"Authorization": "Bearer wrong"} if kind == "badkey" else auth
            requests.append((kind, headers, json.dumps(event).encode(), [event["event_id"]]))
        elif kind == "array":
            batch = [next(events) for _ in range(4)]
            requests.append((kind, auth, json.dumps(batch).encode(), [e["event_id"] for e in batch]))
        elif kind == "ndjson":
            batch = [next(events) for _ in range(3)]
            body = b"\n".join(json.dumps(e).encode() for e in batch) + b'\n{"event_type": "order_created"}\n'
            requests.append((kind, {**auth, "Content-Type": "application/x-ndjson"}, body,
                             [e["event_id"] for e in batch]))
        elif kind == "invalid":
            event = {**next(events), "channel": "carrier-pigeon"}
            requests.append((kind, auth, json.dumps(event).encode(), []))
        elif kind == "oversized":
            event = {**next(events), "note": "x" * MAX_REQUEST}
            requests.append((kind, auth, json.dumps(event).encode(), []))
        else:
            requests.append((kind, auth, b'{"event_type": "order_created", ', []))

    acknowledged: list[str] = []
    statuses: Counter[tuple[str, int]] = Counter()
    with collector(tmp_path, settings.data_dir) as (url, proc):
        def send(item: tuple[str, dict[str, str], bytes, list[str]]) -> tuple[str, int, dict[str, Any]]:
            kind, headers, body, _ = item
            with httpx.Client(timeout=30) as client:
                response = client.post(f"{url}/v1/events", content=body,
                                       headers={"Content-Type": "application/json", **headers})
            return kind, response.status_code, response.json()

        with ThreadPoolExecutor(16) as pool:
            for (kind, status, body), item in zip(pool.map(send, requests), requests, strict=True):
                statuses[(kind, status)] += 1
                if status == 200:
                    acknowledged += [r["event_id"] for r in body["results"] if r["status"] == "accepted"]
                    assert body["accepted"] == len(item[3])
                if status >= 400:
                    assert "error" in body or "results" in body
        metrics = httpx.get(f"{url}/metrics").text
        proc.send_signal(signal.SIGKILL)  # right after the last acknowledgement
        proc.wait()

    assert statuses == Counter({("single", 200): 300, ("array", 200): 100, ("ndjson", 200): 100,
                                ("invalid", 422): 100, ("oversized", 413): 100, ("noauth", 401): 100,
                                ("badkey", 401): 100, ("malformed", 422): 100})
    assert len(acknowledged) == 300 + 400 + 300 == len(set(acknowledged))
    assert f'salesflow_collector_events_total{{outcome="accepted"}} {len(acknowledged)}' in metrics
    assert 'salesflow_collector_requests_total{code="413"} 100' in metrics

    run_batch(settings)
    bronze = [r for r in rows(settings, BRONZE_EVENTS)]
    assert {r["source"] for r in bronze} == {"collector"}
    assert len(bronze) == len(acknowledged)  # nothing rejected was stored, nothing acknowledged was lost
    lake = Lake(settings.lake_root)
    in_silver = [e for spec in SILVER_EVENT_TABLES for e in (lake.read(spec, columns=["event_id"]) or
                                                               _empty())["event_id"].to_pylist()]
    assert sorted(in_silver) == sorted(acknowledged)


def _empty() -> Any:
    import pyarrow as pa

    return pa.table({"event_id": pa.array([], pa.string())})


def test_rate_limit_health_metrics_and_openapi(tmp_path: Path, settings: Settings) -> None:
    event = clean_events(5)[0]
    with collector(tmp_path, settings.data_dir, rate_per_second=1, burst=3) as (url, _):
        answers = [httpx.post(f"{url}/v1/events", json=event, headers={"Authorization": f"Bearer {OTHER_KEY}"})
                   for _ in range(6)]
        codes = [a.status_code for a in answers]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        limited = next(a for a in answers if a.status_code == 429)
        assert int(limited.headers["Retry-After"]) >= 1 and limited.json()["error"] == "rate_limited"
        # Another key has its own bucket.
        assert httpx.post(f"{url}/v1/events", json=event, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200

        health = httpx.get(f"{url}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        spec = httpx.get(f"{url}/openapi.json").json()
        assert "/v1/events" in spec["paths"] and "Event" in spec["components"]["schemas"]
        assert set(spec["paths"]["/v1/events"]["post"]["responses"]) >= {"401", "413", "422", "429"}
        metrics = httpx.get(f"{url}/metrics").text
        assert 'salesflow_collector_requests_total{code="429"}' in metrics


def test_kafka_sink_acknowledges_after_the_broker_does(tmp_path: Path, settings: Settings, kafka_address: str) -> None:
    from salesflow.sources.kafka import ensure_topic

    topic = f"collected-{uuid.uuid4().hex[:8]}"
    settings = load_settings(data_dir=settings.data_dir, kafka={"bootstrap_servers": kafka_address, "topic": topic,
                                                                "poll_timeout_seconds": 0.5})
    ensure_topic(settings.kafka)
    events = clean_events(200)
    env_kafka = {"SALESFLOW__KAFKA__BOOTSTRAP_SERVERS": kafka_address, "SALESFLOW__KAFKA__TOPIC": topic}
    os.environ.update(env_kafka)
    try:
        with collector(tmp_path, settings.data_dir, sink="kafka") as (url, proc):
            answer = httpx.post(f"{url}/v1/events", json=events, headers={"Authorization": f"Bearer {KEY}"},
                                timeout=60)
            assert answer.status_code == 200 and answer.json()["accepted"] == len(events)
            proc.send_signal(signal.SIGKILL)
    finally:
        for key in env_kafka:
            os.environ.pop(key)
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "stream",
                             "--source", "kafka", "--available-now", "--json"], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env={**os.environ, **env_kafka})
    assert result.returncode == 0, result.stderr[-2000:]
    lake = Lake(settings.lake_root)
    in_silver = sorted(e for spec in SILVER_EVENT_TABLES
                       for e in (lake.read(spec, columns=["event_id"]) or _empty())["event_id"].to_pylist())
    assert in_silver == sorted(e["event_id"] for e in events)
