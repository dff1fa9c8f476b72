"""A realistic, deterministic traffic simulator (sessions, seasonality, promotions, defects)."""

from salesflow.simulator.catalog import Catalog, build_catalog
from salesflow.simulator.defects import DEFECT_KINDS, DefectRates
from salesflow.simulator.traffic import SimRecord, SimulationSpec, simulate

__all__ = [
    "DEFECT_KINDS",
    "Catalog",
    "DefectRates",
    "SimRecord",
    "SimulationSpec",
    "build_catalog",
    "simulate",
]
