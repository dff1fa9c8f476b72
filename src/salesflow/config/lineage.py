"""Where OpenLineage events go: an HTTP endpoint (Marquez, DataHub, any OpenLineage backend), a
JSON Lines file, or nowhere (the default)."""

from __future__ import annotations

from pydantic import Field

from salesflow.config.section import Section


class LineageConfig(Section):
    url: str | None = None
    """Base URL of an OpenLineage HTTP backend (events are POSTed to ``<url>/api/v1/lineage``)."""
    file: str | None = None
    """A JSON Lines file the events are appended to (one event a line)."""
    namespace: str = "salesflow"
    """The jobs' namespace in the lineage graph."""
    timeout_seconds: float = Field(5.0, gt=0)
    """How long an event may take to send; lineage never holds a job up longer, nor fails it."""
