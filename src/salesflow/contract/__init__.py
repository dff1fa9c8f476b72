"""The event contract: what producers send and what the pipeline promises to accept."""

from salesflow.contract.events import (
    CONTRACT_VERSION,
    AddToCart,
    Event,
    OrderCreated,
    OrderLine,
    ProductViewed,
    parse_event,
)
from salesflow.contract.reference import Customer, Product, Store
from salesflow.contract.vocabulary import CHANNELS, EVENT_TYPES, PAYMENT_METHODS, REQUIRED_FIELDS

__all__ = [
    "CONTRACT_VERSION",
    "CHANNELS",
    "EVENT_TYPES",
    "PAYMENT_METHODS",
    "REQUIRED_FIELDS",
    "AddToCart",
    "Customer",
    "Event",
    "OrderCreated",
    "OrderLine",
    "Product",
    "ProductViewed",
    "Store",
    "parse_event",
]
