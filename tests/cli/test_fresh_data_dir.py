"""Every command on a fresh data directory (#29): it answers (exit 0), or says in one line what to
run first; never a traceback, never a Python class name. (In process: the executable's own
handling of an unexpected error is tested in tests/cli/test_cli.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesflow.cli.main import cli

COMMANDS = [
    ["status"], ["status", "--json"], ["show", "silver.orders"], ["query", "top_categories"],
    ["query", "daily_revenue", "--param", "start_date=yesterday"], ["reconcile"], ["quality", "report"],
    ["quality", "report", "--json"], ["forecast", "predict"], ["forecast", "models"], ["forecast", "evaluate"],
    ["replay", "--from-bronze-version", "0"], ["warehouse", "load"], ["maintain"],
    ["quarantine", "release", "--dry-run"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_fresh_data_dir(tmp_path: Path, command: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "fresh"), *command])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert not re.search(r"\b[A-Z]\w*(Error|Exception):", result.stderr + result.stdout), result.stderr
    if result.exit_code != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("salesflow: "), result.stderr
        assert result.exit_code in (1, 2)
