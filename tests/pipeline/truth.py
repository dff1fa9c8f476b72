"""Independent expectations computed from the simulator's own records, never from Silver.

Only the simulator's labels decide what should be accepted; all arithmetic is plain Python with
Decimal, so a bug in the SQL models cannot also hide here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from salesflow.simulator import Catalog, SimRecord


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass
class Truth:
    revenue: dict[tuple[date, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    units: dict[tuple[date, str], int] = field(default_factory=lambda: defaultdict(int))
    orders: dict[tuple[date, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    product_units: dict[tuple[date, str], int] = field(default_factory=lambda: defaultdict(int))
    product_revenue: dict[tuple[date, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    hourly_revenue: dict[tuple[datetime, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    hourly_orders: dict[tuple[datetime, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    views: dict[tuple[date, str], int] = field(default_factory=lambda: defaultdict(int))
    carts: dict[tuple[date, str], int] = field(default_factory=lambda: defaultdict(int))
    accepted_events: int = 0
    total_revenue: Decimal = Decimal(0)


def expected_from(records: list[SimRecord], catalog: Catalog) -> Truth:
    truth = Truth()
    for record in records:
        if record.expected != "silver":
            continue
        assert record.event is not None
        truth.accepted_events += 1
        _add(truth, record.event, catalog)
    return truth


def _add(truth: Truth, event: dict[str, Any], catalog: Catalog) -> None:
    when = datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))
    day = when.date()
    if event["event_type"] == "product_viewed":
        truth.views[day, catalog.category_of(event["product_id"])] += 1
    elif event["event_type"] == "add_to_cart":
        truth.carts[day, catalog.category_of(event["product_id"])] += 1
    else:
        hour = when.replace(minute=0, second=0, microsecond=0)
        for line in event["lines"]:
            category = catalog.category_of(line["product_id"])
            revenue = line["quantity"] * _money(line["unit_price"]) - _money(line["discount"])
            truth.revenue[day, category] += revenue
            truth.units[day, category] += line["quantity"]
            truth.orders[day, category].add(event["order_id"])
            truth.product_units[day, line["product_id"]] += line["quantity"]
            truth.product_revenue[day, line["product_id"]] += revenue
            truth.hourly_revenue[hour, category, event["store_id"]] += revenue
            truth.hourly_orders[hour, category, event["store_id"]].add(event["order_id"])
            truth.total_revenue += revenue
