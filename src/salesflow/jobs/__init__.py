"""Jobs: every command as a function of a ``RunContext`` (or plain ``Settings``).

The CLI, the supervisor (``salesflow run``), the Airflow DAG's commands and Python callers all go
through these; none builds its own lake, engine, gate or run id.
"""

from salesflow.jobs.batch import run_batch
from salesflow.pipeline.reconcile import Reconciliation, reconcile_lake
from salesflow.pipeline.runner import BatchRun

__all__ = ["BatchRun", "Reconciliation", "reconcile_lake", "run_batch"]
