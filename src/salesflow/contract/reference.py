"""Reference data: the catalogue, customers and stores that events point at."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from salesflow.contract.vocabulary import CHANNELS

Id = Annotated[StrictStr, Field(min_length=1, max_length=128)]


class _Reference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Product(_Reference):
    product_id: Id
    name: StrictStr
    category: StrictStr
    brand: StrictStr
    list_price: Annotated[Decimal, Field(ge=0, decimal_places=2)]


class Customer(_Reference):
    customer_id: Id
    signup_date: date
    region: StrictStr
    segment: Literal["new", "regular", "vip"]


class Store(_Reference):
    store_id: Id
    name: StrictStr
    city: StrictStr
    country: Annotated[StrictStr, Field(min_length=2, max_length=2)]
    channel: Literal[CHANNELS]  # type: ignore[valid-type]


REFERENCE_MODELS: dict[str, type[_Reference]] = {
    "products": Product,
    "customers": Customer,
    "stores": Store,
}


def reference_lines(models: Iterable[BaseModel]) -> list[bytes]:
    """JSON lines for a sequence of reference records, as a producer would write them."""
    return [orjson.dumps(m.model_dump(mode="json")) for m in models]
