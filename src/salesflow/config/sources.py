"""Config of the outside sources: partner files, REST APIs and the HTTP collector.

A partner's columns are mapped to the event contract field by field. A field is a column name,
a constant, or a SQL expression (DuckDB dialect) over the partner's columns, optionally parsed
with a date format and a time zone, or scaled (amounts in cents). Secrets (API tokens, keys) are
never here: a source names the environment variable that holds them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from salesflow.config.section import IanaZone
from salesflow.contract.reference import REFERENCE_KEYS

# Contract fields a mapping may fill. ``lines.*`` are the line items of an order.
ORDER_FIELDS = ("event_id", "event_type", "event_time", "order_id", "customer_id", "store_id", "channel",
                "currency", "payment_method", "total_amount", "session_id", "product_id", "quantity")
LINE_FIELDS = ("lines.product_id", "lines.quantity", "lines.unit_price", "lines.discount", "lines.amount")
"""``lines.amount``: the line's amount as the source knows it, instead of unit price and discount."""
MAPPABLE = (*ORDER_FIELDS, *LINE_FIELDS)


EXAMPLE_CONSTANTS = {"channel": "store", "currency": "USD", "payment_method": "card", "store_id": "main",
                     "customer_id": "anonymous"}


def required_fields(event_type: str | None) -> list[str]:
    """Contract fields a mapping must fill for ``event_type`` (None: the ones every event needs).
    Read from the contract's models, so the two cannot disagree. ``event_id`` of an order is made
    from its order_id and ``total_amount`` from its lines when they are not mapped."""
    from salesflow.contract.events import AddToCart, OrderCreated, OrderLine, ProductViewed

    models: dict[str, type[BaseModel]] = {"order_created": OrderCreated, "product_viewed": ProductViewed,
                                          "add_to_cart": AddToCart}
    model = models.get(event_type or "")
    if model is None:
        return ["event_time"]
    derived = {"event_type", "schema_version", "lines", "total_amount"}
    if model is OrderCreated:
        derived.add("event_id")
    names = [name for name, field in model.model_fields.items() if field.is_required() and name not in derived]
    if model is OrderCreated:
        names += [f"lines.{name}" for name, field in OrderLine.model_fields.items() if field.is_required()]
    return names


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(Spec):
    """How one contract field is computed from a partner record. Exactly one of column/const/expr."""

    column: str | None = None
    const: str | int | float | None = None
    expr: str | None = None
    """SQL over the partner's columns (quote odd names with double quotes); ``__line`` is the line number."""
    format: str | None = None
    """strptime format of a date/time column, for example ``%d/%m/%Y %H:%M``."""
    timezone: IanaZone | None = None
    """Zone of a local time without offset (IANA name). Default: the source's timezone."""
    scale: float | None = None
    """Multiply a numeric value, for example 0.01 for amounts given in cents."""

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"column": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [k for k in ("column", "const", "expr") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of column, const, expr (got {given or 'none'})")
        return self


class MappingSpec(Spec):
    """Partner record -> contract event."""

    fields: dict[str, FieldSpec]
    grain: Literal["order", "line"] = "order"
    """``order``: one record is one order with one line. ``line``: records sharing an order_id are
    the lines of one order (the order's own fields come from its first record)."""
    timezone: IanaZone = "UTC"
    """Zone of local times without an offset. A local time the zone skips (the spring-forward gap)
    or repeats (the autumn overlap) is read with the offset in force before the change, as Python's
    zoneinfo does (fold=0): 02:30 in Berlin's gap is 03:30 CEST, 02:30 in its overlap is CEST."""
    decimal: str = Field(".", pattern=r"^[.,]$")
    """Decimal separator of numbers given as text (``,`` for 12,50)."""
    thousands: str | None = Field(None, pattern=r"^[., '_]$")
    """Thousands separator to drop from numbers given as text."""
    fx_rates: dict[str, float] = {}
    """Rate to the reporting currency per currency; amounts in these currencies are converted.
    Other currencies pass through (and are quarantined unless they are the reporting currency)."""

    @model_validator(mode="after")
    def _known_fields(self) -> MappingSpec:
        kind = getattr(self, "kind", "events")
        if kind != "events":
            _check_reference_fields(kind, self.fields)
            return self
        unknown = sorted(set(self.fields) - set(MAPPABLE))
        if unknown:
            raise ValueError(f"unknown contract field(s) {unknown}; known: {', '.join(MAPPABLE)}")
        if self.grain == "line" and "order_id" not in self.fields:
            raise ValueError("grain 'line' groups records by order_id: map order_id")
        if "lines.amount" in self.fields and {"lines.unit_price", "lines.discount"} & set(self.fields):
            raise ValueError("map lines.amount (what the line cost) or lines.unit_price and lines.discount, not both")
        given = set(self.fields) | ({"lines.unit_price"} if "lines.amount" in self.fields else set())
        unmapped = [name for name in required_fields(self.event_type()) if name not in given]
        if unmapped:  # else every record would go to quarantine as missing_field, with exit 0
            example = unmapped[0]
            raise ValueError(f"the mapping leaves required field(s) {', '.join(unmapped)} of "
                             f"{self.event_type() or 'every event'} unmapped: map each to a column, or give it a "
                             f"constant, e.g. `{example}: {{const: {EXAMPLE_CONSTANTS.get(example, '...')}}}`")
        return self

    def event_type(self) -> str | None:
        """The one event type the mapping produces (order_created unless mapped), or None when it
        comes from a column or an expression."""
        spec = self.fields.get("event_type")
        if spec is None:
            return "order_created"
        return str(spec.const) if spec.const is not None else None


def _check_reference_fields(kind: str, fields: dict[str, FieldSpec]) -> None:
    key = REFERENCE_KEYS[kind]
    if key not in fields:
        raise ValueError(f"a {kind} file is keyed by {key}: map it to a column")
    odd = sorted(name for name in fields if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name))
    if odd:
        raise ValueError(f"attribute name(s) {odd} must be lower-case words (letters, digits, _)")


class FileSourceSpec(MappingSpec):
    """A partner that delivers files."""

    kind: Literal["events", "products", "customers", "stores"] = "events"
    """``events``: sales events through the contract into Bronze. The others: reference data, merged
    into ``reference.<kind>`` by key; only the key must be mapped, and every other mapped name is
    kept (the contract's attributes typed, the rest as text)."""

    format: Literal["csv", "jsonl", "parquet"] = "csv"
    delimiter: str = ","
    """One character, or ``whitespace`` for columns separated by runs of blanks."""
    header: bool = True
    columns: list[str] | None = None
    """Column names when the file has no header; with a header, the columns it must have."""
    encoding: str = "utf-8"
    """A UTF-8 byte-order mark is always accepted."""
    quote: str = '"'
    settle_seconds: float = Field(0.0, ge=0)
    """Read a file only once it has been unchanged this long (size and modification time): a file
    still being written is left for a later run instead of being cut. 0: read what is there."""
    complete_marker: str | None = None
    """Read a folder's files only once a marker file of this name is in it (``_SUCCESS``)."""
    follow_symlinks: bool = False
    """Read symbolic links in a drop folder (to regular files only, never into /proc, /sys or /dev).
    Off: a link is refused with its reason, like a FIFO or a device."""


class PaginationSpec(Spec):
    style: Literal["page", "offset", "cursor", "link"] = "page"
    page_param: str = "page"
    first_page: int = 1
    size_param: str = "per_page"
    page_size: int = Field(100, ge=1)
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    next_cursor_path: str = "next_cursor"
    """Dotted path to the next cursor in the response body (style ``cursor``)."""


class ApiSourceSpec(MappingSpec):
    """A partner API polled for orders."""

    url: str
    records_path: str = ""
    """Dotted path to the list of records in the response body (empty: the body is the list)."""
    pagination: PaginationSpec = PaginationSpec()
    auth: Literal["none", "bearer", "basic", "header"] = "none"
    token_env: str | None = None
    """Environment variable holding the token (``basic``: ``user:password``)."""
    auth_header: str = "X-API-Key"
    """Header name for auth ``header``."""
    incremental_field: str | None = None
    """Record field that only grows (updated_at, id): the next run asks for records after its max."""
    incremental_param: str = "since"
    params: dict[str, str] = {}
    """Further query parameters (not for secrets: see ``auth`` and ``token_env``)."""
    headers: dict[str, str] = {}
    """Further request headers (not for secrets: see ``auth`` and ``token_env``)."""
    timeout_seconds: float = Field(10.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_seconds: float = Field(0.5, ge=0)
    """First retry delay; doubles each attempt, with full jitter."""
    max_backoff_seconds: float = Field(30.0, ge=0)
    pages_per_batch: int = Field(10, ge=1)
    """Pages written to Bronze in one commit (with the cursor)."""


class CollectorConfig(Spec):
    host: str = "127.0.0.1"
    """Listen address. A non-loopback address needs ``api_keys`` (or ``--insecure-no-auth``)."""
    port: int = Field(8088, ge=0, le=65535)
    api_keys: dict[str, str] = {}
    """Key name -> SHA-256 hex of the key (``salesflow.collector.limits.hash_key``). Empty: authentication
    off, which the collector allows on a loopback address only."""
    header_timeout_seconds: float = Field(10.0, gt=0)
    """A request's headers must arrive within this long (slow-header clients are cut: 408)."""
    body_timeout_seconds: float = Field(30.0, gt=0)
    """A request's body must arrive within this long after its headers (408)."""
    max_connections: int = Field(1024, ge=1)
    """Open connections at most; beyond it requests get 503."""
    max_connections_per_client: int = Field(64, ge=1)
    """Open connections one client address may hold; beyond it a connection is refused with 503."""
    ssl_certfile: str | None = None
    """Serve HTTPS with this PEM certificate (chain) ...; or terminate TLS at a reverse proxy."""
    ssl_keyfile: str | None = None
    """... and this PEM private key (a path, readable by the collector's user only)."""
    max_request_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    rate_per_second: float = Field(200.0, gt=0)
    """Requests per second per key (token bucket)."""
    burst: int = Field(400, ge=1)
    sink: Literal["landing", "kafka"] = "landing"
    flush_ms: float = Field(5.0, ge=0)
    """Group commit: accepted events of concurrent requests share one fsync within this window."""
