"""Accepted values shared by the pydantic contract and the SQL models (one definition).

The SQL models receive these through template variables, so a new channel is added here once.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = ("order_created", "product_viewed", "add_to_cart")
CHANNELS: tuple[str, ...] = ("web", "mobile", "store", "marketplace")
PAYMENT_METHODS: tuple[str, ...] = ("card", "paypal", "apple_pay", "gift_card", "cash")

COMMON_FIELDS: tuple[str, ...] = ("event_type", "schema_version", "event_id", "event_time")
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "order_created": (
        "order_id", "customer_id", "store_id", "channel", "currency", "payment_method",
        "lines", "total_amount",
    ),
    "product_viewed": ("session_id", "product_id", "store_id", "channel"),
    "add_to_cart": ("session_id", "product_id", "store_id", "channel", "quantity"),
}
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "order_created": ("quarantined_lines",),
    "product_viewed": ("customer_id",),
    "add_to_cart": ("customer_id",),
}
LINE_FIELDS: tuple[str, ...] = ("product_id", "quantity", "unit_price", "discount")


def known_fields(event_type: str) -> tuple[str, ...]:
    """Top-level keys the contract knows for one event type; anything else is schema drift."""
    return COMMON_FIELDS + REQUIRED_FIELDS[event_type] + OPTIONAL_FIELDS[event_type]
