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
    """Only the key is required: a partner's catalogue has the attributes it has. Attributes the
    contract does not name are kept as text (``extra``), so nothing a partner sends is dropped."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Product(_Reference):
    product_id: Id
    name: StrictStr | None = None
    category: StrictStr | None = None
    subcategory: StrictStr | None = None
    brand: StrictStr | None = None
    list_price: Annotated[Decimal, Field(ge=0, decimal_places=2)] | None = None


class Customer(_Reference):
    customer_id: Id
    signup_date: date | None = None
    region: StrictStr | None = None
    segment: StrictStr | None = None


class Store(_Reference):
    store_id: Id
    name: StrictStr | None = None
    city: StrictStr | None = None
    country: Annotated[StrictStr, Field(min_length=2, max_length=2)] | None = None
    channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]


REFERENCE_MODELS: dict[str, type[_Reference]] = {
    "products": Product,
    "customers": Customer,
    "stores": Store,
}
REFERENCE_KEYS = {"products": "product_id", "customers": "customer_id", "stores": "store_id"}


def reference_lines(models: Iterable[BaseModel]) -> list[bytes]:
    """JSON lines for a sequence of reference records, as a producer would write them."""
    return [orjson.dumps(m.model_dump(mode="json")) for m in models]
