"""`salesflow run` as a real supervised process: retries, alerts, SIGTERM, one instance per data dir."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from salesflow.common.processes import free_port
from salesflow.config import Settings
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, PIPELINE_RUNS
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.simulator import SimulationSpec
from tests.conftest import land
from tests.http import answers
from tests.quality.webhook import webhook_server


def salesflow(tmp_path: Path, data: Path, *args: str, env: dict[str, str] | None = None,
              log_name: str = "run.log") -> subprocess.Popen[str]:
    log = open(tmp_path / log_name, "w")  # noqa: SIM115 - the child owns it until it exits
    return subprocess.Popen([sys.executable, "-m", "salesflow", "-v", "--config", str(tmp_path / "salesflow.yaml"),
                             "--data-dir", str(data), *args], stdout=log, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path, env={**os.environ, **(env or {})})


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def fact_rows(data: Path) -> int:
    import duckdb

    path = data / "warehouse.duckdb"
    if not path.exists():
        return 0
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return int(con.execute("SELECT count(*) FROM fact_sales").fetchall()[0][0])
    except duckdb.Error:  # being written, or not created yet
        return 0


def scrape(log: Path) -> str:
    import httpx

    port = re.search(r"metrics on http://127.0.0.1:(\d+)/metrics", log.read_text())
    assert port is not None, log.read_text()[-2000:]
    answer = httpx.get(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return answer.text


def write_config(tmp_path: Path, **run: object) -> None:
    (tmp_path / "salesflow.yaml").write_text(yaml.safe_dump({"run": {"interval_seconds": 1.5, "backoff_seconds": 0.2,
                                                                     "metrics_port": 0, **run}}))


def test_supervised_run_retries_a_transient_step_and_stops_cleanly_on_sigterm(
        tmp_path: Path, settings: Settings) -> None:
    dashboard_port = free_port()
    write_config(tmp_path, steps=["quality", "warehouse", "flaky"], dashboard=True, dashboard_port=dashboard_port,
                 commands={"flaky": f"test -f {tmp_path}/flaky.ok || {{ touch {tmp_path}/flaky.ok; exit 75; }}"})
    first = land(settings, SimulationSpec(events=6_000, seed=1, days=3), per_segment=1_000)
    proc = salesflow(tmp_path, settings.data_dir, "run")
    try:
        wait_for(lambda: fact_rows(settings.data_dir) > 0 and "step flaky ok after 2 attempt(s)"
                 in (tmp_path / "run.log").read_text(), 120, "warehouse rows and the flaky step's retry")
        second = land(settings, SimulationSpec(events=4_000, seed=2, days=3), per_segment=500)  # more, while running
        metrics = scrape(tmp_path / "run.log")
        assert re.search(r'^salesflow_layer_records\{layer="bronze"\} [1-9]', metrics, re.M)
        # The steps run every 1.5 s: by the scrape, a busy machine may have run them again (the
        # flaky step then succeeds at once), so the retry itself is read from the log above.
        assert re.search(r'^salesflow_step_runs_total\{step="flaky",status="ok"\} [1-9]', metrics, re.M)
        assert re.search(r'^salesflow_step_last_attempts\{step="flaky"\} [12]$', metrics, re.M)
        assert 'salesflow_lake_balanced 1' in metrics and "salesflow_quarantined_records{reason=" in metrics
        assert re.search(r'^salesflow_watermark_timestamp_seconds\{source="landing"\} \d', metrics, re.M)
        assert re.search(r"^salesflow_stream_records_total [1-9]", metrics, re.M)
        import httpx

        assert f"dashboard on http://127.0.0.1:{dashboard_port}" in (tmp_path / "run.log").read_text()
        wait_for(lambda: answers(f"http://127.0.0.1:{dashboard_port}/_stcore/health"), 60, "the dashboard")
        assert httpx.get(f"http://127.0.0.1:{dashboard_port}/", timeout=10).status_code == 200
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "run.log").read_text()
    assert "step flaky: command flaky (test) exited 75" in log and "retry 1/3" in log
    assert re.search(r"step quality ok after 1 attempt\(s\) in [0-9.]+ s: reconciled", log)
    assert reconcile_lake(Lake(settings.lake_root)).balanced  # whatever SIGTERM interrupted

    # A restart picks up what the stop left and ends with everything accounted for.
    again = salesflow(tmp_path, settings.data_dir, "run", "--once", log_name="again.log")
    assert again.wait(timeout=300) == 0, (tmp_path / "again.log").read_text()[-3000:]
    lake = Lake(settings.lake_root)
    bronze = lake.read(BRONZE_EVENTS, columns=["source_position"])
    assert bronze is not None and bronze.num_rows == len(first) + len(second)
    assert len(set(bronze["source_position"].to_pylist())) == bronze.num_rows
    assert reconcile_lake(lake).balanced


def test_terminal_failure_alerts_and_exits_non_zero(tmp_path: Path, settings: Settings) -> None:
    write_config(tmp_path, steps=["warehouse", "broken"], commands={"broken": "echo disk on fire >&2; exit 3"})
    land(settings, SimulationSpec(events=2_000, seed=3, days=2))
    with webhook_server() as hook:
        proc = salesflow(tmp_path, settings.data_dir, "run", env={"SALESFLOW__ALERTS__WEBHOOK_URL": hook.url})
        code = proc.wait(timeout=180)
    log = (tmp_path / "run.log").read_text()
    assert code != 0, log[-3000:]
    assert "step broken failed: StepFailed: command broken exited 3: disk on fire" in log
    assert "Traceback" not in log
    stopped = [m["text"] for m in hook.received if "run stopped" in m["text"]]  # (quality warnings go there too)
    assert len(stopped) == 1 and "step broken failed" in stopped[0] and "disk on fire" in stopped[0]
    assert fact_rows(settings.data_dir) > 0  # the step before it did its work
    assert reconcile_lake(Lake(settings.lake_root)).balanced


def test_second_run_on_the_same_data_dir_is_refused(tmp_path: Path, settings: Settings) -> None:
    write_config(tmp_path, steps=["warehouse"])
    land(settings, SimulationSpec(events=2_000, seed=4, days=2))
    first = salesflow(tmp_path, settings.data_dir, "run")
    try:
        wait_for(lambda: "step warehouse ok" in (tmp_path / "run.log").read_text(), 120, "the first run")
        second = subprocess.run([sys.executable, "-m", "salesflow", "--config", str(tmp_path / "salesflow.yaml"),
                                 "--data-dir", str(settings.data_dir), "run"], capture_output=True, text=True,
                                timeout=60, cwd=tmp_path)
        assert second.returncode == 3
        assert "another `salesflow run` holds" in second.stderr and f"pid {first.pid}" in second.stderr
        assert first.poll() is None  # the first one is untouched
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert reconcile_lake(Lake(settings.lake_root)).balanced


def test_the_dashboard_child_dies_with_a_killed_main_job(tmp_path: Path, settings: Settings) -> None:
    """SIGKILL leaves no clean-up to the job: Linux ends its dashboard (PR_SET_PDEATHSIG), so the
    port is free for the next start."""
    port = free_port()
    write_config(tmp_path, stream=False, steps=[], dashboard=True, dashboard_port=port, interval_seconds=3600)
    proc = salesflow(tmp_path, settings.data_dir, "run")
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/_stcore/health"), 120, "the dashboard")
        children = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid).count("streamlit")
                    and f"{port}" in _cmdline(pid)]
        assert children, "no dashboard process found"
    finally:
        proc.kill()
        proc.wait()
    wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") and "streamlit" in _cmdline(pid) for pid in children),
             60, "the dashboard to exit")
    wait_for(lambda: not answers(f"http://127.0.0.1:{port}/_stcore/health"), 30, "the port to be free")


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_a_taken_dashboard_port_stops_the_job_before_anything_starts(tmp_path: Path, settings: Settings) -> None:
    land(settings, SimulationSpec(events=500, seed=8, days=1))
    metrics_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        write_config(tmp_path, dashboard=True, dashboard_port=port, metrics_port=metrics_port, steps=["warehouse"])
        result = subprocess.run([sys.executable, "-m", "salesflow", "--config", str(tmp_path / "salesflow.yaml"),
                                 "--data-dir", str(settings.data_dir), "run"], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
        alone = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "dashboard",
                                "--port", str(port)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert alone.returncode == 2 and alone.stdout == "" and f"port {port}" in alone.stderr  # no URL of another server
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "run.dashboard_port" in lines[0], result.stderr
    assert "SALESFLOW__RUN__DASHBOARD_PORT" in lines[0]
    assert "dashboard on" not in result.stdout  # no URL printed for a dashboard that cannot start
    assert not Lake(settings.lake_root).exists(BRONZE_EVENTS)  # the stream never started
    assert not (settings.data_dir / "warehouse.duckdb").exists()  # nor any step


def test_the_main_job_says_what_it_does_as_it_happens(tmp_path: Path, settings: Settings) -> None:
    """Without -v: stream progress (records, events/s, freshness) and each step's start, end,
    duration and outcome, as they happen; the stream's run is in ops.pipeline_runs."""
    land(settings, SimulationSpec(events=6_000, seed=9, days=2))
    write_config(tmp_path, steps=["quality", "warehouse"], progress_seconds=0.2, metrics_port=None)
    small_batches = {**os.environ, "SALESFLOW__PIPELINE__MAX_BATCH_BYTES": "400000"}  # a few micro-batches
    result = subprocess.run([sys.executable, "-m", "salesflow", "--config", str(tmp_path / "salesflow.yaml"),
                             "--data-dir", str(settings.data_dir), "run", "--once"], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env=small_batches)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stderr
    progress = re.findall(r"stream: (\d+) records in (\d+) micro-batch\(es\) since the last line \((\d+) in all\), "
                          r"\d+ events/s, freshness [0-9.]+ s", log)
    assert progress and int(progress[-1][2]) == 6_000, log[-3000:]
    order = [m.group(0) for m in re.finditer(r"step (quality|warehouse) (started|ok after 1 attempt\(s\) in [0-9.]+ s)",
                                             log)]
    assert [o.split(" in ")[0] for o in order] == ["step quality started", "step quality ok after 1 attempt(s)",
                                                   "step warehouse started", "step warehouse ok after 1 attempt(s)"]
    assert log.index("stream:") < log.index("step quality started")  # as it happened, not at shutdown
    runs = Lake(settings.lake_root).read(PIPELINE_RUNS)
    assert runs is not None
    streamed = [r for r in runs.to_pylist() if r["command"] == "stream"]
    assert sum(r["bronze_rows"] for r in streamed) == 6_000 and all(r["balanced"] for r in streamed)
