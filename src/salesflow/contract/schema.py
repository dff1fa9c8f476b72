"""JSON Schema export for producers (``salesflow contract --json-schema``)."""

from __future__ import annotations

from typing import Any

from salesflow.contract.events import CONTRACT_VERSION, EVENT_ADAPTER
from salesflow.contract.reference import REFERENCE_MODELS


def event_json_schema() -> dict[str, Any]:
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"salesflow event contract v{CONTRACT_VERSION}"
    schema["x-contract-version"] = CONTRACT_VERSION
    return schema


def reference_json_schemas() -> dict[str, Any]:
    return {name: model.model_json_schema() for name, model in REFERENCE_MODELS.items()}
