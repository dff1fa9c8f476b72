"""Render the Airflow DAG shipped with salesflow (``salesflow airflow-dag > dags/salesflow.py``)."""

from __future__ import annotations

import shutil
import sys
from datetime import date
from importlib import resources


def render_dag(*, data_dir: str, config: str | None, drop_dir: str, file_source: str, schedule: str = "@daily",
               start: date = date(2026, 9, 1), retries: int = 3) -> str:
    template = resources.files("salesflow.ops").joinpath("templates", "airflow_dag.py.tmpl").read_text()
    salesflow = shutil.which("salesflow") or f"{sys.executable} -m salesflow"
    values = {"__SALESFLOW__": salesflow, "__CONFIG__": config or "", "__DATA_DIR__": data_dir,
              "__DROP_DIR__": drop_dir, "__FILE_SOURCE__": file_source, "__SCHEDULE__": schedule,
              "__START__": start.isoformat(), "__RETRIES__": str(retries)}
    for key, value in values.items():
        template = template.replace(key, value.replace("\\", "\\\\").replace('"', '\\"'))
    return template
