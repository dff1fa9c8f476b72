"""Event models (contract version 1).

Money is ``Decimal`` with two places, times are timezone-aware ISO 8601, and numbers must be
JSON numbers, not strings: the pipeline's SQL enforces the same rules, and a test checks the two
agree on every defect the simulator can make. Unknown extra fields are allowed (schema drift is
reported, not rejected).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from salesflow.contract.bounds import (
    CONTROL_CHARACTERS,
    DEFAULT_BOUNDS,
    MAX_ID_CHARS,
    MAX_QUARANTINED_LINES,
    UTC_OFFSET,
    Bounds,
)
from salesflow.contract.duplicate_keys import refuse_duplicate_keys
from salesflow.contract.vocabulary import CHANNELS, PAYMENT_METHODS

CONTRACT_VERSION = 1

# No control characters: a NUL in a key breaks PostgreSQL, and none belongs in an id.
Id = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=f"^[^{CONTROL_CHARACTERS[1:-1]}]+$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
SignedMoney = Annotated[Decimal, Field(max_digits=16, decimal_places=2)]
"""A discount of a return line, an order total of returns: negative where the line is."""


def bounds_of(info: ValidationInfo) -> Bounds:
    """The plausibility bounds given as validation context (``{"bounds": ...}``), else the defaults."""
    context = info.context if isinstance(info.context, dict) else {}
    return context.get("bounds", DEFAULT_BOUNDS)  # type: ignore[no-any-return]


def received_at(info: ValidationInfo) -> datetime:
    """When the record arrived (validation context ``received``), else now."""
    context = info.context if isinstance(info.context, dict) else {}
    return context.get("received") or datetime.now(UTC)  # type: ignore[no-any-return]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
PaymentMethod = Literal[PAYMENT_METHODS]  # type: ignore[valid-type]


def _json_number(value: Any) -> Any:
    # Strings such as "12.50" are a producer bug the SQL side rejects too (invalid_type).
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError("must be a JSON number")
    return value


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: Literal[1] = 1  # CONTRACT_VERSION
    event_id: Id
    event_time: AwareDatetime

    @field_validator("schema_version", mode="before")
    @classmethod
    def _integer_version(cls, value: Any) -> Any:
        # Literal[1] alone lets 1.0 and true through; Silver (and JSON Schema) want the integer.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("schema_version must be the integer 1")
        return value

    @field_validator("event_time", mode="before")
    @classmethod
    def _offset_spelling(cls, value: Any) -> Any:
        # An ISO 8601 string, as Silver reads it: no epoch number, and ending in Z or a real UTC
        # offset (UTC_OFFSET); the parser here alone would also take a lowercase z.
        if not isinstance(value, str):
            raise ValueError("event_time must be an ISO 8601 string")
        if not (value.endswith("Z") or re.search(UTC_OFFSET, value)):
            raise ValueError("event_time must end in Z or a UTC offset such as +02:00")
        return value

    @field_validator("event_time")
    @classmethod
    def _plausible_time(cls, value: datetime, info: ValidationInfo) -> datetime:
        problem = bounds_of(info).time_problem(value, received_at(info))
        if problem is not None:
            raise ValueError(f"implausible event time: {problem}")
        return value

    @property
    def extra_fields(self) -> list[str]:
        """Top-level keys not in the contract (schema drift)."""
        return sorted((self.model_extra or {}).keys())


class OrderLine(BaseModel):
    """A sale (quantity > 0), a return (quantity < 0: its revenue is negative) or a value line
    (quantity 0: weighed goods, a deposit, an adjustment; its revenue is its unit price, and it adds
    no units). The discount is money off the whole line, in the line's direction: between 0 and the
    line's amount, so negative on a return."""

    model_config = ConfigDict(extra="allow", frozen=True)

    product_id: Id
    quantity: StrictInt
    unit_price: Money
    discount: SignedMoney = Decimal("0")

    _numbers = field_validator("unit_price", "discount", mode="before")(_json_number)

    @property
    def amount(self) -> Decimal:
        """The line before its discount: a value line counts its unit price once."""
        return (self.quantity or 1) * self.unit_price

    @property
    def revenue(self) -> Decimal:
        return self.amount - self.discount

    @model_validator(mode="after")
    def _discount_within_line(self, info: ValidationInfo) -> OrderLine:
        bounds = bounds_of(info)
        if self.quantity >= 0 and self.discount < 0:
            raise ValueError("negative discount on a line that is not a return")
        if abs(self.quantity) > bounds.max_quantity:
            raise ValueError(f"implausible quantity: more than {bounds.max_quantity}")
        if self.unit_price > bounds.max_amount:
            raise ValueError(f"implausible unit price: more than {bounds.max_amount}")
        low, high = sorted((self.amount, Decimal(0)))
        if not low <= self.discount <= high:
            raise ValueError("discount beyond the line amount, or against its direction")
        return self


class OrderCreated(_Event):
    event_type: Literal["order_created"]
    order_id: Id
    customer_id: Id
    store_id: Id
    channel: Channel
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")]
    payment_method: PaymentMethod
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=1000)]
    total_amount: SignedMoney
    """The sum of the lines' revenue: negative for an order of returns only."""
    quarantined_lines: Annotated[StrictInt, Field(ge=0, le=MAX_QUARANTINED_LINES)] = 0
    """Lines of the partner's basket quarantined on their own (a line-grain file source): the order
    holds, and totals, the lines that kept the contract."""

    _numbers = field_validator("total_amount", mode="before")(_json_number)

    @model_validator(mode="after")
    def _total_matches_lines(self, info: ValidationInfo) -> OrderCreated:
        if abs(self.total_amount) > bounds_of(info).max_amount:
            raise ValueError(f"implausible total amount: more than {bounds_of(info).max_amount}")
        if abs(sum(line.revenue for line in self.lines) - self.total_amount) > Decimal("0.01"):
            raise ValueError("total_amount does not match the sum of the lines")
        return self


class ProductViewed(_Event):
    event_type: Literal["product_viewed"]
    session_id: Id
    customer_id: Id | None = None
    product_id: Id
    store_id: Id
    channel: Channel


class AddToCart(_Event):
    event_type: Literal["add_to_cart"]
    session_id: Id
    customer_id: Id | None = None
    product_id: Id
    store_id: Id
    channel: Channel
    quantity: Annotated[StrictInt, Field(gt=0)]

    @model_validator(mode="after")
    def _plausible_quantity(self, info: ValidationInfo) -> AddToCart:
        if self.quantity > bounds_of(info).max_quantity:
            raise ValueError(f"implausible quantity: more than {bounds_of(info).max_quantity}")
        return self


Event = Annotated[Union[OrderCreated, ProductViewed, AddToCart], Field(discriminator="event_type")]
EVENT_ADAPTER: TypeAdapter[OrderCreated | ProductViewed | AddToCart] = TypeAdapter(Event)


def parse_event(raw: str | bytes, bounds: Bounds = DEFAULT_BOUNDS,
                received: datetime | None = None) -> OrderCreated | ProductViewed | AddToCart:
    """Validate one JSON document against the contract (raises pydantic.ValidationError, or
    DuplicateKeyError for a repeated key). ``received``: when it arrived (default now), the
    reference of the event time's upper bound."""
    refuse_duplicate_keys(raw)
    return EVENT_ADAPTER.validate_json(raw, context={"bounds": bounds, "received": received})

