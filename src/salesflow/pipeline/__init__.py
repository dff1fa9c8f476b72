"""Wires the stages for one run: a Bronze source through Silver and Gold (``runner``), the
reconciliation of the lake (``reconcile``) and the run log (``runs``)."""

from salesflow.pipeline.reconcile import Reconciliation, reconcile_lake
from salesflow.pipeline.runner import BatchRun, Runner

__all__ = ["BatchRun", "Reconciliation", "Runner", "reconcile_lake"]
