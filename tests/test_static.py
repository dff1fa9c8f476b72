"""Static checks as tests: typed functions everywhere (mypy) and no unused or undefined names (ruff)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_defs() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "src"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff() -> None:
    """The project's own ruff settings (pyproject.toml): the default rules, the line length, bugbear, imports."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_security_lint() -> None:
    """bandit's rules (ruff ``S``) over the package: every finding fixed or justified inline."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "--select", "S"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_dependency_audit() -> None:
    """pip-audit over the installed dependency set: a known vulnerability fails; advisories that
    cannot be reached from this machine are reported as a skip, not a failure."""
    import json

    import pytest

    result = subprocess.run([sys.executable, "-m", "pip_audit", "--local", "--skip-editable",
                             "--progress-spinner", "off", "--format", "json"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    if not result.stdout.strip():
        pytest.skip(f"pip-audit could not run: {result.stderr.strip()[-300:]}")
    report = json.loads(result.stdout)["dependencies"]
    vulnerable = {f"{d['name']} {d['version']}": [v["id"] for v in d["vulns"]] for d in report if d.get("vulns")}
    assert not vulnerable, vulnerable
    audited = [d for d in report if "skip_reason" not in d]
    if not audited:
        pytest.skip(f"advisories unreachable: none of {len(report)} dependencies could be audited")
