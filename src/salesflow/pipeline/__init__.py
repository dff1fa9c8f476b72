"""Wires the stages: landing -> bronze -> silver -> gold, with reconciliation and a run log."""

from salesflow.pipeline.batch import BatchRun, run_batch
from salesflow.pipeline.reconcile import Reconciliation, reconcile_lake

__all__ = ["BatchRun", "Reconciliation", "reconcile_lake", "run_batch"]
