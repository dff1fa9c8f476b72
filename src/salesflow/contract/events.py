"""Event models (contract version 1).

Money is ``Decimal`` with two places, times are timezone-aware ISO 8601, and numbers must be
JSON numbers, not strings: the pipeline's SQL enforces the same rules, and a test checks the two
agree on every defect the simulator can make. Unknown extra fields are allowed (schema drift is
reported, not rejected).
"""

from __future__ import annotations

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
    field_validator,
    model_validator,
)

from salesflow.contract.vocabulary import CHANNELS, PAYMENT_METHODS

CONTRACT_VERSION = 1

Id = Annotated[StrictStr, Field(min_length=1, max_length=128)]
Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
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

    @property
    def extra_fields(self) -> list[str]:
        """Top-level keys not in the contract (schema drift)."""
        return sorted((self.model_extra or {}).keys())


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    product_id: Id
    quantity: Annotated[StrictInt, Field(gt=0)]
    unit_price: Money
    discount: Money = Decimal("0")
    """Money taken off the whole line (not per unit)."""

    _numbers = field_validator("unit_price", "discount", mode="before")(_json_number)

    @property
    def revenue(self) -> Decimal:
        return self.quantity * self.unit_price - self.discount

    @model_validator(mode="after")
    def _discount_within_line(self) -> OrderLine:
        if self.discount > self.quantity * self.unit_price:
            raise ValueError("discount exceeds line amount")
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
    total_amount: Money

    _numbers = field_validator("total_amount", mode="before")(_json_number)

    @model_validator(mode="after")
    def _total_matches_lines(self) -> OrderCreated:
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


Event = Annotated[Union[OrderCreated, ProductViewed, AddToCart], Field(discriminator="event_type")]
EVENT_ADAPTER: TypeAdapter[OrderCreated | ProductViewed | AddToCart] = TypeAdapter(Event)


def parse_event(raw: str | bytes) -> OrderCreated | ProductViewed | AddToCart:
    """Validate one JSON document against the contract (raises pydantic.ValidationError)."""
    return EVENT_ADAPTER.validate_json(raw)

