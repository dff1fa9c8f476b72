"""The dashboard server, launched one way for ``salesflow dashboard`` and ``salesflow run``: the
same Streamlit command line and the same settings (data dir and config file) either way."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import NoReturn

from salesflow.common.extras import check
from salesflow.common.processes import die_with_parent, stop_process
from salesflow.context import RunContext


def dashboard_command(ctx: RunContext, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """Argv and environment of the Streamlit server for this context's settings."""
    check("streamlit", "the dashboard")
    app = resources.files("salesflow.dashboard").joinpath("app.py")
    env = {**os.environ, "SALESFLOW__DATA_DIR": str(ctx.settings.data_dir.resolve())}
    if ctx.config_file is not None:
        env["SALESFLOW_CONFIG"] = str(Path(ctx.config_file).resolve())
    argv = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
            "--server.address", host, "--server.port", str(port),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    return argv, env


def serve_dashboard(ctx: RunContext, host: str, port: int) -> NoReturn:
    """Become Streamlit (exec, not a child): a signal to this process then reaches the server itself."""
    argv, env = dashboard_command(ctx, host, port)
    sys.stdout.flush()
    os.execve(argv[0], argv, env)  # noqa: S606 - fixed argv of our own executable, no shell


@contextmanager
def dashboard_child(ctx: RunContext, port: int) -> Iterator[None]:
    """The dashboard as a child process for a block (Streamlit wants its own main thread); it dies
    with this process even when this one is SIGKILLed."""
    argv, env = dashboard_command(ctx, "127.0.0.1", port)
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603 - fixed argv of our own executables, no shell
                             preexec_fn=die_with_parent)  # noqa: PLW1509 - one prctl call, nothing that locks
    try:
        yield
    finally:
        stop_process(child, timeout=15)


def write_html_report(ctx: RunContext, out: Path) -> dict[str, int]:
    """The dashboard's charts and tables as one self-contained HTML file (``salesflow report``)."""
    from salesflow.dashboard.report import write_report

    return write_report(ctx.settings, out)
