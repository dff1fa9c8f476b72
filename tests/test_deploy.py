"""deploy/: the container image and the compose stack, checked as far as this machine can (it has
no Docker engine): the compose file against the Compose specification, the Dockerfile with
hadolint, every salesflow command and setting against the real CLI and config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())  # merge keys (<<) resolved
SERVICES = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("image") == "salesflow:latest"}


def test_the_compose_file_follows_the_compose_specification() -> None:
    spec = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    jsonschema.validate(COMPOSE, json.loads(spec))
    assert {"kafka", "minio", "postgres", "spark-master", "spark-worker", "metabase"} <= set(SERVICES)
    assert set(OURS) == {"collector", "main", "dashboard"}


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_installs_the_runtime_only_and_runs_as_a_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    installs = re.findall(r"^RUN pip install[^\n]*|^    && pip install[^\n]*", dockerfile, re.M)
    assert len(installs) == 1, installs
    extras = set(re.fullmatch(r'RUN pip install --no-cache-dir "\.\[([a-z,]+)\]" \\', installs[0])[1].split(","))
    defined = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras <= set(defined) - {"dev", "all", "spark"}, extras  # runtime extras only
    assert {"kafka", "dashboard", "postgres"} <= extras  # what the compose stack's services use
    assert re.search(r"^USER 10001$", dockerfile, re.M) and "HEALTHCHECK" in dockerfile
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    for tool in ("pyspark", "moto", "pytest", "mypy", "ruff", "playwright", "hypothesis"):
        assert tool not in runtime, f"{tool} is a development dependency"


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_service_runs_a_real_command_with_real_flags(name: str) -> None:
    import click

    from salesflow.cli.main import cli

    args = list(OURS[name]["command"])
    with click.Context(cli) as group:
        command = cli.get_command(group, args[0])
        assert command is not None, f"{name}: salesflow has no command {args[0]!r}"
        command.make_context(args[0], args[1:], parent=group)  # click refuses an unknown flag or a bad value


def _environment(service: dict[str, object]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict)
    return {str(k): str(v) for k, v in env.items()}


def test_every_setting_is_a_real_config_key_and_the_whole_set_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    from salesflow.config import Settings, load_settings

    example = dict(line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    for name, service in OURS.items():
        env = _environment(service)
        for key in env:
            assert key.startswith("SALESFLOW__"), key
            section, _, field = key.removeprefix("SALESFLOW__").lower().partition("__")
            model = Settings.model_fields[section].annotation if section in Settings.model_fields else None
            assert model is not None, f"{name}: {key} names no config section"
            if field:
                assert field in model.model_fields, f"{name}: {key} names no key of {section}"  # type: ignore[union-attr]
        resolved = {k: re.sub(r"\$\{(\w+)\}", lambda m: example[m.group(1)], v) for k, v in env.items()}
        with monkeypatch.context() as patch:
            for key, value in resolved.items():
                patch.setenv(key, value)
            settings = load_settings()
            assert settings.lake_root == "s3://salesflow/lake" and settings.kafka.bootstrap_servers == "kafka:9092"


def test_every_variable_the_stack_reads_is_in_the_example_env() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    example = {line.split("=", 1)[0] for line in (DEPLOY / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert used <= example, sorted(used - example)


def test_host_ports_do_not_clash() -> None:
    published = [str(p).split(":")[0] for s in SERVICES.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), published
