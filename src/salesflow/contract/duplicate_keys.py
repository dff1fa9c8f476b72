"""One rule for repeated JSON keys: an event object or an order line that names a key twice is
``malformed_json``. Parsers disagree on which value wins (DuckDB's reader keeps the first, Python's
the last): ``"currency":"USD","currency":"EUR"`` would be USD to one validator and EUR to the other.
Silver applies the same rule in SQL (``silver.parsed_events``, ``silver.parsed_lines``); keys
repeated inside unknown extra fields are kept as received (drift, never read).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_KEY = re.compile(rb'"\s*:')
"""Every key ends in a quote and a colon; so may a few string values, which only cost the exact check."""


class DuplicateKeyError(ValueError):
    """The event names a key twice."""


class _Repeated(dict):  # type: ignore[type-arg]
    """An object that named a key twice (marks it for ``duplicate_key``)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    made = dict(pairs)
    return _Repeated(made) if len(made) < len(pairs) else made


def _keys(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_keys(v) for v in value.values())
    if isinstance(value, list):
        return sum(_keys(v) for v in value)
    return 0


def marked(data: bytes, parsed: Any) -> Any:
    """``parsed`` (orjson's reading of ``data``), or when a key may be repeated somewhere, ``data``
    read again with every object that repeats a key marked (see ``repeated_in``)."""
    if _keys(parsed) == len(_KEY.findall(data)):  # as many keys as key spellings: none repeated
        return parsed
    return json.loads(data, object_pairs_hook=_pairs)


def repeated_in(doc: Any) -> str | None:
    """Where a marked event repeats a key: ``"event"``, ``"lines"`` or None."""
    if isinstance(doc, _Repeated):
        return "event"
    lines = doc.get("lines") if isinstance(doc, dict) else None
    if isinstance(lines, list) and any(isinstance(line, _Repeated) for line in lines):
        return "lines"
    return None


def duplicate_key(raw: bytes | str) -> str | None:
    """Where a key is repeated (``"event"`` or ``"lines"``), or None; None for text that is not JSON."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return repeated_in(marked(data, parsed))


def refuse_duplicate_keys(raw: bytes | str) -> None:
    where = duplicate_key(raw)
    if where is not None:
        raise DuplicateKeyError(f"a key is repeated in the {'event' if where == 'event' else 'order lines'}")
