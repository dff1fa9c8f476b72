"""The base of every config section: unknown keys are refused, assignments validated."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (for example Europe/Berlin or UTC)") from None
    return name


IanaZone = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name, checked when the config is read rather than when a file is mapped."""
