"""The shipped Airflow DAG: its structure, and every task's command run for real on a small lake.

Airflow itself (hundreds of dependencies, a metadata database) is too heavy for this CI, so the
DAG module is executed with two small recording stand-ins for ``airflow.DAG`` and
``BashOperator``; what they record (task ids, order, retries, SLAs, catchup, the bash commands)
is then checked, and the commands are run through bash in the DAG's order, as BashOperator would.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from salesflow.ops.airflow import render_dag
from salesflow.simulator import SimulationSpec
from tests.conftest import land

CHAIN = ["ingest_files", "batch", "quality", "warehouse_load", "forecast_train", "forecast_predict", "analytics"]


class Recorder:
    tasks: list[Any] = []
    dags: list[Any] = []


class FakeDag:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        Recorder.dags.append(self)

    def __enter__(self) -> FakeDag:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class FakeBash:
    def __init__(self, *, task_id: str, bash_command: str, **kwargs: Any) -> None:
        self.task_id, self.bash_command, self.kwargs = task_id, bash_command, kwargs
        self.downstream: list[FakeBash] = []
        Recorder.tasks.append(self)

    def __rshift__(self, other: FakeBash) -> FakeBash:
        self.downstream.append(other)
        return other


def load_dag(source: str) -> tuple[FakeDag, list[FakeBash]]:
    Recorder.tasks, Recorder.dags = [], []
    airflow = types.ModuleType("airflow")
    airflow.DAG = FakeDag  # type: ignore[attr-defined]
    operators = types.ModuleType("airflow.operators")
    bash = types.ModuleType("airflow.operators.bash")
    bash.BashOperator = FakeBash  # type: ignore[attr-defined]
    saved = {k: sys.modules.get(k) for k in ("airflow", "airflow.operators", "airflow.operators.bash")}
    sys.modules.update({"airflow": airflow, "airflow.operators": operators, "airflow.operators.bash": bash})
    try:
        exec(compile(source, "salesflow_dag.py", "exec"), {"__name__": "salesflow_dag"})  # noqa: S102 - our own file
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module
    return Recorder.dags[0], Recorder.tasks


def test_dag_structure(tmp_path: Path) -> None:
    source = render_dag(data_dir=str(tmp_path / "d"), config=None, drop_dir="/drops", file_source="shop",
                        retries=4)
    ast.parse(source)
    dag, tasks = load_dag(source)
    assert dag.kwargs["dag_id"] == "salesflow_daily" and dag.kwargs["catchup"] is True
    assert dag.kwargs["schedule"] == "@daily" and dag.kwargs["max_active_runs"] == 1
    assert dag.kwargs["default_args"]["retries"] == 4
    assert [t.task_id for t in tasks] == CHAIN
    for upstream, downstream in zip(tasks, tasks[1:], strict=False):
        assert upstream.downstream == [downstream]
    assert all("sla" in t.kwargs for t in tasks if t.task_id in ("ingest_files", "batch", "warehouse_load"))


@pytest.mark.slow
def test_every_task_command_runs_for_real(tmp_path: Path, settings: Any) -> None:
    day = "2026-10-20"
    config = tmp_path / "salesflow.yaml"
    config.write_text(yaml.safe_dump({"files": {"shop": {"delimiter": ";", "fields": {
        "order_id": "id", "customer_id": "cust", "event_time": "ts", "store_id": {"const": "s1"},
        "channel": {"const": "web"}, "currency": {"const": "USD"}, "payment_method": {"const": "card"},
        "lines.product_id": "sku", "lines.quantity": "qty", "lines.unit_price": "price"}}},
        "forecast": {"folds": 2}}))
    land(settings, SimulationSpec(events=40_000, seed=9, start=date(2026, 9, 1), days=50))
    drops = tmp_path / "drops" / day
    drops.mkdir(parents=True)
    (drops / "orders.csv").write_text("id;cust;ts;sku;qty;price\nX1;c1;2026-10-20T10:00:00Z;P001;2;9.5\n")
    source = render_dag(data_dir=str(settings.data_dir), config=str(config), drop_dir=str(tmp_path / "drops"),
                        file_source="shop")
    _, tasks = load_dag(source)
    for task in tasks:
        command = task.bash_command.replace("{{ ds }}", day)
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert result.returncode == 0, f"{task.task_id}: {result.stderr[-2000:]}"
        if task.task_id == "analytics":
            assert result.stdout.startswith("day,revenue") and f"\n{day}," in result.stdout
