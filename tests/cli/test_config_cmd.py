"""``salesflow config show|validate|schema``: where each setting came from, a file checked on
its own, and a schema editors can use (without the secrets, which a file may not hold)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def salesflow(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESFLOW")}
    return subprocess.run([sys.executable, "-m", "salesflow", *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean, **(env or {})}, timeout=120, check=False)


def test_show_names_the_source_of_every_setting_given(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("pipeline:\n  allowed_lateness_seconds: 5\nstream:\n  trigger_seconds: 9\n"
                      "kafka:\n  extra: {linger.ms: '5'}\n")
    env = {"SALESFLOW__STREAM__TRIGGER_SECONDS": "2", "SALESFLOW__ALERTS__WEBHOOK_URL": "https://hooks.example/T/s3cr3t-v4lue"}
    done = salesflow(tmp_path, "--config", str(config), "--engine", "duckdb", "--data-dir", str(tmp_path / "d"),
                     "config", "show", "--json", env=env)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["sources"] == {"alerts.webhook_url": "environment", "data_dir": "flag", "engine.name": "flag",
                                "kafka.extra": "file", "pipeline.allowed_lateness_seconds": "file",
                                "stream.trigger_seconds": "environment"}
    assert shown["settings"]["stream"]["trigger_seconds"] == 2.0  # the environment beat the file
    assert shown["settings"]["pipeline"]["allowed_lateness_seconds"] == 5
    assert "s3cr3t-v4lue" not in done.stdout


def test_validate_checks_a_file_on_its_own(tmp_path: Path) -> None:
    good = ROOT / "examples" / "cdnow.yaml"
    done = salesflow(tmp_path, "config", "validate", str(good), env={"SALESFLOW__PIPELINE__MAX_QUANTITY": "0"})
    assert (done.returncode, done.stdout.strip()) == (0, f"{good}: valid")  # the environment plays no part
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline:\n  allowed_lateness_seconds: -5\n")
    done = salesflow(tmp_path, "config", "validate", str(bad))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "pipeline.allowed_lateness_seconds" in done.stderr
    secret = tmp_path / "secret.yaml"
    secret.write_text("warehouse:\n  url: postgresql://u:pw-in-file@h/db\n")
    done = salesflow(tmp_path, "config", "validate", str(secret))
    assert done.returncode == 2 and "is a secret" in done.stderr and "pw-in-file" not in done.stderr


def test_the_schema_accepts_real_files_refuses_unknown_keys_and_holds_no_secret(tmp_path: Path) -> None:
    done = salesflow(tmp_path, "config", "schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        as_text = json.loads(json.dumps(yaml.safe_load(example.read_text()), default=lambda v: v.isoformat()))
        jsonschema.validate(as_text, schema)  # an editor sees YAML timestamps as strings
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"pipeline": {"no_such_key": 1}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"warehouse": {"url": "postgresql://u:p@h/db"}}, schema)  # secrets: environment only
    for secret in ("webhook_url", "sasl_password", "secret_access_key", "session_token", "redis_url"):
        assert secret not in done.stdout
