"""The floor plan, checked from the tree: imports run down the floors, no loops, small modules,
and delta-rs only under ``lake/``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "salesflow"
FLOORS = [
    ("errors", "redact", "common", "models", "__version__"),
    ("config", "contract"),
    ("lake",),
    ("engine",),
    ("quality",),
    ("context",),
    ("sources", "simulator", "collector"),
    ("bronze",),
    ("silver",),
    ("gold",),
    ("pipeline", "warehouse"),
    ("analytics", "forecast"),
    ("dashboard",),
    ("ops",),
    ("jobs",),
    ("cli", "api", "__main__", "spark_submit", "__init__"),
]
"""Lowest first: a module may import its own floor and those below. ``contract -> sources ->
bronze -> silver -> gold -> warehouse -> analytics / forecast -> dashboard`` with the shared
parts under it and the jobs, CLI and entry points over it."""
ALLOWED_UPWARD: set[tuple[str, str]] = set()
"""Imports that may run up the floors, each with its reason (none today)."""
DELTA_METHODS = {"get_add_actions", "history", "to_pyarrow_dataset", "to_pyarrow_table", "file_uris",
                 "load_as_version", "transaction_version", "update_incremental", "create_write_transaction",
                 "vacuum", "optimize", "create_checkpoint", "cleanup_metadata", "metadata", "protocol"}
MAX_LINES = 400


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = ast.parse(path.read_text(), str(path))
    return found


def _imports(tree: ast.Module) -> set[str]:
    """Modules of salesflow this one imports (at the top or inside a function)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("salesflow"):
            base = node.module.removeprefix("salesflow").removeprefix(".")
            out |= {base} if base else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.removeprefix("salesflow.") for a in node.names if a.name.startswith("salesflow.")}
    return out


def _floor(module: str) -> int:
    top = module.split(".")[0]
    for level, names in enumerate(FLOORS):
        if top in names:
            return level
    raise AssertionError(f"{module} is on no floor: add its package to FLOORS")


MODULES = _modules()
GRAPH = {name: {t for t in _imports(tree) if t in MODULES} for name, tree in MODULES.items()}


def test_every_import_runs_down_the_floors() -> None:
    upward = sorted((m, t) for m, targets in GRAPH.items() for t in _imports(MODULES[m])
                    if _floor(t) > _floor(m) and (m, t) not in ALLOWED_UPWARD)
    assert upward == [], upward
    assert len(ALLOWED_UPWARD) <= 2


def test_no_import_loops() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(node: str) -> None:  # Tarjan: every strongly connected part of more than one module is a loop
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                loops.append(sorted(part))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert loops == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_only_lake_touches_delta_rs() -> None:
    """No module outside ``lake/`` imports ``deltalake`` or calls a delta-rs table method."""
    offenders = []
    for name, tree in MODULES.items():
        if name.split(".")[0] == "lake":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "deltalake" for a in node.names):
                offenders.append(f"{name} imports deltalake")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "deltalake":
                offenders.append(f"{name} imports deltalake")
            elif isinstance(node, ast.Attribute) and node.attr in DELTA_METHODS and isinstance(node.ctx, ast.Load):
                offenders.append(f"{name}:{node.lineno} .{node.attr}")
    assert offenders == []


def test_no_top_level_module_shadows_the_standard_library() -> None:
    """spark-submit runs ``salesflow/spark_submit.py`` as a script, which puts ``salesflow/`` first
    on the path: a ``salesflow/calendar.py`` would replace the standard ``calendar`` module."""
    names = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if p.is_dir()}
    assert sorted(names & set(sys.stdlib_module_names)) == []


SPARK_PATH = ("engine.spark", "engine.spark_tables", "engine.spark_lines", "engine.spark_checkpoints",
              "engine.parquet_files", "lake.files", "jobs.spark_stream")
DRIVER_RESULTS = {
    "engine.spark:SparkEngine.__init__": "SHOW FUNCTIONS: the names of the session's functions",
    "engine.spark:_arrow": "query(): counts, samples, add-action lists, the contract's small results",
    "engine.spark_tables:_write": "one add-action row per file the executors wrote",
    "jobs.spark_stream:kafka_records": "one row per Kafka partition of the micro-batch: its message count",
    "jobs.spark_stream:_Job._bronze_landing": "one row per landing file of the micro-batch: name, mtime, lines",
}
"""Every place on the Spark path where rows come back to the driver, with why they are few."""
TO_DRIVER = {"toArrow", "collect", "toPandas", "toLocalIterator", "take", "head", "tail"}


def test_rows_reach_the_spark_driver_only_where_listed() -> None:
    """A new ``toArrow()``/``collect()`` on the Spark path fails here until it is listed with its
    reason: table-sized data must stay on the executors (#25)."""
    found: dict[str, str] = {}
    for name in SPARK_PATH:
        for scope, node in _calls_in(MODULES[name]):
            if isinstance(node.func, ast.Attribute) and node.func.attr in TO_DRIVER:
                found[f"{name}:{scope}"] = node.func.attr
    assert sorted(found) == sorted(DRIVER_RESULTS)


def _calls_in(tree: ast.Module) -> list[tuple[str, ast.Call]]:
    out: list[tuple[str, ast.Call]] = []

    def walk(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                walk(child, [*scope, child.name])
            else:
                if isinstance(child, ast.Call):
                    out.append((".".join(scope), child))
                walk(child, scope)
    walk(tree, [])
    return out
