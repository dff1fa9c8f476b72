"""Secrets set in the environment never reach stdout, stderr, logs or an HTTP answer.

Each case runs the real command line in a child process with planted secrets, the way an operator's
shell or a CI log would see it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from salesflow.common.processes import free_port
from salesflow.config import Settings
from tests.http import wait_healthy


def salesflow(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "salesflow", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path, env={**os.environ, **(env or {})})


def planted() -> str:
    return "Pl4nted-" + uuid.uuid4().hex[:12]


@pytest.mark.parametrize("shape", [
    "postgresql://etl:{p}@127.0.0.1:1/sales",
    "postgresql://etl@127.0.0.1:1/sales?password={p}",
    "host=127.0.0.1 port=1 user=etl password={p} dbname=sales",
    "mysql://etl:{p}@127.0.0.1/sales",
    "postgresql://etl:Hu@{p}@127.0.0.1:1/sales",  # an unencoded '@': libpq quotes the rest as the host
    "postgresql://etl:{p}@127.0.0.1:1/sales?not_an_option=1",  # libpq quotes the URL back in its error
])
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_warehouse_url_passwords_never_print(shape: str, log_format: str, tmp_path: Path, settings: Settings) -> None:
    secret = planted()
    result = salesflow(tmp_path, "-v", "--data-dir", str(settings.data_dir), "warehouse", "load",
                       env={"SALESFLOW__WAREHOUSE__URL": shape.format(p=secret), "SALESFLOW__LOG_FORMAT": log_format})
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in out, out
    assert secret not in out and secret[2:] not in out
    assert "salesflow:" in result.stderr  # one clear line says what failed


def test_an_unexpected_error_prints_its_traceback_redacted(tmp_path: Path) -> None:
    """A bug's traceback (main thread and another thread) goes through the redaction layer too."""
    secret = planted()
    script = (
        "import threading, click\n"
        "from salesflow.cli import main as m\n"
        "@m.cli.command('boom')\n"
        "def boom():\n"
        "    import os\n"
        "    url = os.environ['SALESFLOW__WAREHOUSE__URL']\n"
        "    t = threading.Thread(target=lambda: (_ for _ in ()).throw(ValueError(url)))\n"
        "    t.start(); t.join()\n"
        "    raise RuntimeError('lost connection to ' + url + ' with password=' + url.split(':')[2][:20])\n"
        "m.main(['boom'])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={**os.environ,
                                               "SALESFLOW__WAREHOUSE__URL": f"postgresql://etl:{secret}@db/s"})
    assert result.returncode == 1
    assert "RuntimeError: lost connection to postgresql://etl:***@db/s" in result.stderr, result.stderr
    assert "ValueError" in result.stderr and secret not in result.stdout + result.stderr


@pytest.mark.parametrize("section, key", [
    ("kafka.extra", "sasl.password"), ("lake.options", "aws_secret_access_key"),
    ("spark.conf", "spark.hadoop.fs.s3a.secret.key"), ("apis.shop.headers", "Authorization"),
    ("apis.shop.params", "api_key"),
])
def test_secret_like_keys_in_free_form_maps_are_refused_in_files(section: str, key: str, tmp_path: Path) -> None:
    secret = planted()
    values: dict = {key: secret}
    for part in reversed(section.split(".")):
        values = {part: values}
    if section.startswith("apis"):
        values["apis"]["shop"].update({"url": "http://127.0.0.1:1/orders", "fields": {"order_id": "id"}})
    config = tmp_path / "salesflow.yaml"
    config.write_text(yaml.safe_dump(values))
    result = salesflow(tmp_path, "--config", str(config), "status")
    assert result.returncode == 2 and secret not in result.stdout + result.stderr
    assert f"{section}['{key}'] looks like a secret" in result.stderr
    assert "$SALESFLOW__" + section.upper().replace(".", "__") in result.stderr


def test_config_errors_never_echo_values(tmp_path: Path) -> None:
    secret = planted()
    wrong_env = salesflow(tmp_path, "status", env={"SALESFLOW__WAREHOUSE__URI": f"postgresql://u:{secret}@h/db"})
    config = tmp_path / "salesflow.yaml"
    config.write_text(f"warehouse:\n  URL: postgresql://u:{secret}@h/db\n")
    wrong_key = salesflow(tmp_path, "--config", str(config), "status")
    config.write_text(f"warehouse:\n  path: [postgresql://u:{secret}@h/db\n")
    bad_yaml = salesflow(tmp_path, "--config", str(config), "status")
    for result, says in ((wrong_env, "warehouse.uri"), (wrong_key, "warehouse.URL"), (bad_yaml, "not valid YAML")):
        out = result.stdout + result.stderr
        assert result.returncode == 2 and says in result.stderr and secret not in out, out


def test_config_show_names_its_sources_and_masks_secrets(tmp_path: Path) -> None:
    secret, token = planted(), planted()
    config = tmp_path / "salesflow.yaml"
    config.write_text("pipeline:\n  allowed_lateness_seconds: 5\nkafka:\n  extra: {linger.ms: '5'}\n")
    env = {"SALESFLOW__WAREHOUSE__URL": f"postgresql://etl:{secret}@db.internal/sales",
           "SALESFLOW__ALERTS__WEBHOOK_URL": f"https://hooks.example/services/{token}",
           "SALESFLOW__KAFKA__EXTRA": json.dumps({"sasl.password": token + "k"}),
           "SALESFLOW__PIPELINE__ALLOWED_LATENESS_SECONDS": "90"}
    result = salesflow(tmp_path, "config", "show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout and token not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["config_file"] == str(config.resolve())
    assert {"SALESFLOW__WAREHOUSE__URL", "SALESFLOW__PIPELINE__ALLOWED_LATENESS_SECONDS"} <= set(shown["environment"])
    settings = shown["settings"]
    assert settings["warehouse"]["url"] == "postgresql://etl:***@db.internal/sales"  # the host stays readable
    assert settings["alerts"]["webhook_url"] == "***"
    assert settings["kafka"]["extra"] == {"linger.ms": "5", "sasl.password": "***"}  # file and env merged
    assert settings["pipeline"]["allowed_lateness_seconds"] == 90  # the environment won
    yaml_out = salesflow(tmp_path, "config", "show", env=env)
    assert yaml_out.returncode == 0 and secret not in yaml_out.stdout and "config_file:" in yaml_out.stdout


def test_collector_answers_and_logs_hold_no_secret(tmp_path: Path, settings: Settings) -> None:
    secret = planted()
    port = free_port()
    log = tmp_path / "collector.log"
    env = {**os.environ, "SALESFLOW__WAREHOUSE__URL": f"postgresql://etl:{secret}@db/s",
           "SALESFLOW__KAFKA__SASL_PASSWORD": secret + "k", "SALESFLOW__ALERTS__WEBHOOK_URL": f"https://h/{secret}w"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "salesflow", "-v", "--data-dir", str(settings.data_dir),
                                 "collect", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                cwd=tmp_path, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(f"{url}/healthz", proc, log, 60)  # type: ignore[arg-type]
            answers = [httpx.get(f"{url}/{p}").text for p in ("healthz", "metrics", "openapi.json", "docs")]
            answers += [
                httpx.post(f"{url}/v1/events", content=body).text
                for body in (b"{", b"[]", b'{"event_type": "order_created"}', json.dumps({"x": secret}).encode())
            ]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    # The last body carried the secret itself: an answer that echoed input would show it masked.
    assert all(secret not in a for a in answers), answers
    assert secret not in log.read_text()


def test_time_travel_to_a_version_that_never_was_is_one_line(tmp_path: Path, settings: Settings) -> None:
    from salesflow.jobs import run_batch
    from salesflow.simulator import DefectRates, SimulationSpec
    from tests.conftest import land

    land(settings, SimulationSpec(events=500, seed=3, defects=DefectRates.none()))
    run_batch(settings)
    for as_of in ("999999", "-1", "not-a-time"):
        result = salesflow(tmp_path, "--data-dir", str(settings.data_dir), "show", "bronze.events", "--as-of", as_of)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) <= 3 and ("--as-of" in lines[-1] or "not 999999" in lines[-1])  # click's usage at most
    assert "has versions 0 to 0, not 999999" in salesflow(
        tmp_path, "--data-dir", str(settings.data_dir), "show", "bronze.events", "--as-of", "999999").stderr
