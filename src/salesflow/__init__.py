"""salesflow: raw sales events to a trustworthy Bronze/Silver/Gold lakehouse and business answers.

From Python: ``sf = salesflow.connect(data_dir="data")``, then ``sf.batch()``, ``sf.query(...)``,
``sf.table(...)`` (see ``salesflow.api``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salesflow.api import Salesflow

__version__ = "0.1.0"


def connect(data_dir: str | Path | None = None, config: str | Path | None = None, **overrides: Any) -> Salesflow:
    """A handle on one salesflow installation (``salesflow.api.connect``); importing ``salesflow``
    alone stays cheap, the pipeline loads on the first call."""
    from salesflow.api import connect as _connect

    return _connect(data_dir, config, **overrides)


__all__ = ["__version__", "connect"]
