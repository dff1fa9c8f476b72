"""OpenLineage events: START and COMPLETE (or FAIL) for every job run, to a file or a real HTTP
endpoint, naming the tables each job reads and writes; a dead endpoint never fails the job."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from salesflow.common.processes import free_port
from salesflow.config import load_settings
from salesflow.errors import SalesflowError
from salesflow.jobs.batch import run_batch
from salesflow.jobs.warehouse import load_warehouse
from salesflow.simulator import SimulationSpec
from tests.conftest import land


def _events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_batch_run_is_a_start_and_a_complete_with_its_tables(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", lineage={"file": str(tmp_path / "lineage.jsonl")})
    land(settings, SimulationSpec(events=800, seed=2, days=1))
    run_batch(settings)
    events = _events(tmp_path / "lineage.jsonl")
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {events[0]["run"]["runId"]}  # type: ignore[index]
    done = events[1]
    assert done["job"] == {"namespace": "salesflow", "name": "salesflow.batch", "facets": {}}
    outputs = {o["name"]: o["namespace"] for o in done["outputs"]}  # type: ignore[attr-defined]
    lake = f"file://{(tmp_path / 'd' / 'lake').resolve()}"
    assert outputs["silver.orders"] == lake and outputs["gold.daily_sales"] == lake and "bronze.events" in outputs
    assert [i["name"] for i in done["inputs"]] == ["landing.segments"]  # type: ignore[attr-defined]


def test_a_failed_job_sends_fail_with_its_error_and_never_a_password(tmp_path: Path) -> None:
    secret = "Pl4nted-lineage-pw"
    port = free_port()  # nothing listens there: the warehouse is down
    settings = load_settings(data_dir=tmp_path / "d", lineage={"file": str(tmp_path / "lineage.jsonl")},
                             warehouse={"url": f"postgresql://etl:{secret}@127.0.0.1:{port}/sales"})
    with pytest.raises(SalesflowError):
        load_warehouse(settings)
    text = (tmp_path / "lineage.jsonl").read_text()
    events = _events(tmp_path / "lineage.jsonl")
    assert [e["eventType"] for e in events] == ["START", "FAIL"] and secret not in text
    assert "errorMessage" in events[1]["run"]["facets"]  # type: ignore[index]
    assert {o["namespace"] for o in events[1]["outputs"]} == {f"postgres://127.0.0.1:{port}"}  # type: ignore[attr-defined]


@pytest.fixture
def backend() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/api/v1/lineage":
                received.append(json.loads(body))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_events_reach_an_http_backend(tmp_path: Path, backend: tuple[str, list[dict[str, object]]]) -> None:
    url, received = backend
    settings = load_settings(data_dir=tmp_path / "d", lineage={"url": url})
    land(settings, SimulationSpec(events=500, seed=3, days=1))
    run_batch(settings)
    assert [(e["eventType"], e["job"]["name"]) for e in received] == [  # type: ignore[index]
        ("START", "salesflow.batch"), ("COMPLETE", "salesflow.batch")]


def test_a_dead_backend_does_not_fail_the_job(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(data_dir=tmp_path / "d", lineage={"url": f"http://127.0.0.1:{free_port()}",
                                                               "timeout_seconds": 1})
    land(settings, SimulationSpec(events=300, seed=4, days=1))
    run = run_batch(settings)
    assert run.reconciliation is not None and run.reconciliation.balanced
    assert "lineage event not sent" in caplog.text
