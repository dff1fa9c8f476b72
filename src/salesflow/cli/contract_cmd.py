"""``salesflow contract``: JSON Schema export and file validation."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from salesflow.contract import CONTRACT_VERSION, parse_event
from salesflow.contract.schema import event_json_schema, reference_json_schemas


def print_schema(*, reference: bool, as_json: bool) -> None:
    schema = reference_json_schemas() if reference else event_json_schema()
    if as_json:
        print(json.dumps(schema, indent=2))
    else:
        print(f"salesflow event contract v{CONTRACT_VERSION}: order_created, product_viewed, add_to_cart")
        print("Use --json-schema for the full JSON Schema.")


def validate_lines(console: Console, path: Path) -> int:
    bad = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                parse_event(line)
            except ValidationError as exc:
                bad += 1
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                console.print(f"{path.name}:{number}: {where}: {first['msg']}", highlight=False)
    console.print(f"{'ok' if not bad else f'{bad} invalid line(s)'}: {path}")
    return 1 if bad else 0
