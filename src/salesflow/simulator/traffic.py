"""Shopper sessions: view -> cart -> order, shaped by time of day, weekday, trend and promotions.

Everything is drawn from one ``random.Random`` seeded by ``SimulationSpec.seed``, so the same spec
gives byte-identical output. Events are produced day by day, so memory stays bounded by one day.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from salesflow.contract.reference import Product
from salesflow.simulator.catalog import CATEGORIES, Catalog
from salesflow.simulator.defects import DefectInjector, DefectRates, SimRecord

# Share of a day's sessions starting in each UTC hour: quiet nights, lunch and evening peaks.
HOURLY = (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4.5, 5, 4.8, 4.2, 4, 4.2, 4.8, 5.5, 6.5, 7, 6, 4, 2)
WEEKDAY = (0.9, 0.9, 0.95, 1.0, 1.1, 1.35, 1.25)  # Monday first: weekends sell more
TREND_PER_DAY = 0.003
EVENTS_PER_SESSION = 2.75  # measured average; used only to size the number of sessions
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Promotion:
    category: str
    first_day: date
    last_day: date
    discount: Decimal

    def active(self, category: str, day: date) -> bool:
        return category == self.category and self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class SimulationSpec:
    events: int = 200_000
    seed: int = 42
    start: date = date(2026, 9, 1)
    days: int = 28
    defects: DefectRates = field(default_factory=DefectRates)
    realtime_from: datetime | None = None
    """Real-time mode: event times spread evenly from here over ``realtime_seconds``."""
    realtime_seconds: float = 0.0


def promotions(seed: int, start: date, days: int) -> list[Promotion]:
    """One promotion a week on a random category, 3 to 5 days long, 10% to 30% off."""
    rng = random.Random(f"promotions-{seed}")  # noqa: S311 - not for security: jitter and simulated data
    promos = []
    for week_start in range(0, days, 7):
        first = start + timedelta(days=week_start + rng.randint(0, 3))
        promos.append(Promotion(
            category=rng.choice(CATEGORIES)[0], first_day=first,
            last_day=first + timedelta(days=rng.randint(2, 4)),
            discount=Decimal(rng.choice(("0.10", "0.15", "0.20", "0.30"))),
        ))
    return promos


def day_weights(start: date, days: int, promos: list[Promotion]) -> list[float]:
    weights = []
    for i in range(days):
        day = start + timedelta(days=i)
        boost = 1.0 + 0.08 * sum(p.first_day <= day <= p.last_day for p in promos)
        weights.append(WEEKDAY[day.weekday()] * (1 + TREND_PER_DAY * i) * boost)
    return weights


def simulate(spec: SimulationSpec, catalog: Catalog) -> Iterator[SimRecord]:
    """Yield exactly ``spec.events`` records, defects and duplicate copies included."""
    # Real-time mode draws from the seed and its start instant: `simulate --rate` after `make run`
    # (same default seed) re-used 109 ids of the demo's orders. A finite run stays reproducible.
    seed = spec.seed if spec.realtime_from is None else f"{spec.seed}-{spec.realtime_from.isoformat()}"
    rng = random.Random(seed)  # noqa: S311 - not for security: jitter and simulated data
    injector = DefectInjector(spec.defects, random.Random(f"defects-{spec.seed}"))  # noqa: S311 - not for security: jitter and simulated data
    shop = _Shop(catalog, promotions(spec.seed, spec.start, spec.days), rng)
    return itertools.islice(_records(spec, shop, injector), spec.events)


def _records(spec: SimulationSpec, shop: _Shop, injector: DefectInjector) -> Iterator[SimRecord]:
    rates = spec.defects
    bad = sum(getattr(rates, k) for k in ("malformed_json", "missing_field", "negative_value", "wrong_type",
                                          "unknown_event_type", "oversized"))
    # Size the sessions so clean events plus duplicate copies land just above the target; the
    # caller cuts at exactly spec.events.
    budget = spec.events / (1 + rates.duplicate * (1 - bad)) * 1.005 + 20
    emitted = 0
    realtime = spec.realtime_from is not None
    for day_start, seconds, share in _periods(spec, shop.promos):
        for t, event in shop.day_events(day_start, seconds, budget * share, realtime=realtime):
            for record in injector.feed(event, t):
                emitted += 1
                yield record
    while emitted < spec.events:  # rare top-up when chance left the plan short
        for t, event in shop.day_events(day_start, seconds, spec.events - emitted, realtime=realtime):
            for record in injector.feed(event, t):
                emitted += 1
                yield record
        for record in injector.drain():
            emitted += 1
            yield record
    yield from injector.drain()


def _periods(spec: SimulationSpec, promos: list[Promotion]) -> Iterator[tuple[datetime, float, float]]:
    if spec.realtime_from is not None:
        yield spec.realtime_from, spec.realtime_seconds, 1.0
        return
    weights = day_weights(spec.start, spec.days, promos)
    total = sum(weights)
    for i, weight in enumerate(weights):
        day = datetime.combine(spec.start + timedelta(days=i), datetime.min.time(), UTC)
        yield day, 86_400.0, weight / total


class _Shop:
    """Session behaviour over a fixed catalogue."""

    def __init__(self, catalog: Catalog, promos: list[Promotion], rng: random.Random) -> None:
        self.catalog, self.promos, self.rng = catalog, promos, rng
        self.by_category: dict[str, list[Product]] = {}
        for product in catalog.products:
            self.by_category.setdefault(product.category or "unknown", []).append(product)
        # Within a category a few products sell most (Zipf-like), as in real catalogues.
        self.product_cum = {c: list(itertools.accumulate(1 / (k + 1) ** 0.8 for k in range(len(ps))))
                            for c, ps in self.by_category.items()}
        self.category_weight = {name: weight for name, _, weight, _ in CATEGORIES if name in self.by_category}
        self.store_cum = list(itertools.accumulate(rng.uniform(0.5, 1.5) for _ in catalog.stores))
        self.day_promos: dict[str, Promotion] = {}
        self.category_names: list[str] = list(self.category_weight)
        self.category_cum: list[float] = []
        self.gap_scale = 1.0

    def day_events(
        self, start: datetime, seconds: float, budget: float, *, realtime: bool
    ) -> list[tuple[float, dict[str, Any]]]:
        events: list[tuple[float, dict[str, Any]]] = []
        base = start.timestamp()
        # Real time squeezes each session's minutes into the run, so every event lands inside it.
        self.gap_scale = min(1.0, seconds / 3600) if realtime else 1.0
        self._enter_day(start.date())
        while len(events) < budget:
            offset = self.rng.uniform(0, seconds) if realtime else self._seconds_into_day()
            events.extend(self._session(base + offset))
        events.sort(key=lambda pair: pair[0])
        return events

    def _enter_day(self, day: date) -> None:
        """Promotions change by the day: resolve them once per day, not once per event."""
        self.day_promos = {p.category: p for p in self.promos if p.first_day <= day <= p.last_day}
        weights = [self.category_weight[n] * (2.0 if n in self.day_promos else 1.0) for n in self.category_names]
        self.category_cum = list(itertools.accumulate(weights))

    def _seconds_into_day(self) -> float:
        hour = self.rng.choices(range(24), weights=HOURLY)[0]
        return hour * 3600 + self.rng.uniform(0, 3600)

    def _session(self, t: float) -> list[tuple[float, dict[str, Any]]]:
        rng = self.rng
        store = rng.choices(self.catalog.stores, cum_weights=self.store_cum)[0]
        customer = rng.choice(self.catalog.customers)
        known = rng.random() < 0.85
        common = {"session_id": _hex(rng, 16), "customer_id": customer.customer_id if known else None,
                  "store_id": store.store_id, "channel": store.channel}
        category = rng.choices(self.category_names, cum_weights=self.category_cum)[0]
        promo = self.day_promos.get(category)
        cart: dict[str, tuple[Product, int]] = {}
        out: list[tuple[float, dict[str, Any]]] = []
        for _ in range(min(1 + _geometric(rng, 0.45), 8)):
            t += rng.expovariate(1 / 40) * self.gap_scale
            product = rng.choices(self.by_category[category], cum_weights=self.product_cum[category])[0]
            out.append((t, _event(rng, "product_viewed", t, common, product_id=product.product_id)))
            if rng.random() < 0.18 * (1.6 if promo else 1.0) * (1.2 if customer.segment == "vip" else 1.0):
                t += rng.expovariate(1 / 20) * self.gap_scale
                quantity = rng.choices((1, 2, 3), weights=(75, 18, 7))[0]
                out.append((t, _event(rng, "add_to_cart", t, common, product_id=product.product_id, quantity=quantity)))
                previous = cart.get(product.product_id, (product, 0))[1]
                cart[product.product_id] = (product, previous + quantity)
        if cart and rng.random() < {"new": 0.4, "regular": 0.5, "vip": 0.65}[customer.segment or "regular"]:
            t += rng.expovariate(1 / 90) * self.gap_scale
            out.append((t, self._order(t, common, customer.customer_id, cart, promo)))
        return out

    def _order(self, t: float, common: dict[str, Any], customer_id: str,
               cart: dict[str, tuple[Product, int]], promo: Promotion | None) -> dict[str, Any]:
        rate = promo.discount if promo else Decimal(0)
        lines: list[dict[str, Any]] = [{"product_id": p.product_id, "quantity": q, "unit_price": _price(p),
                  "discount": (_price(p) * q * rate).quantize(CENT, ROUND_HALF_UP)} for p, q in cart.values()]
        total = sum((line["unit_price"] * line["quantity"] - line["discount"] for line in lines), Decimal(0))
        payment = self.rng.choice(("card", "card", "card", "paypal", "apple_pay", "gift_card")
                                  + (("cash",) if common["channel"] == "store" else ()))
        fields = {"order_id": f"O-{_hex(self.rng, 16)}", "customer_id": customer_id, "store_id": common["store_id"],
                  "channel": common["channel"], "currency": "USD", "payment_method": payment,
                  "lines": lines, "total_amount": total}
        return _event(self.rng, "order_created", t, {}, **fields)


def _event(rng: random.Random, event_type: str, t: float, common: dict[str, Any], **fields: Any) -> dict[str, Any]:
    head = {"event_type": event_type, "schema_version": 1, "event_id": _uuid4(rng), "event_time": _iso(t)}
    body = {k: v for k, v in common.items() if k != "customer_id" or v is not None}
    if event_type == "order_created":
        body = {}
    return {**head, **body, **fields}


def _iso(t: float) -> str:
    millis = int(round(t * 1000))
    days, rest = divmod(millis, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _day_text(days_since_epoch: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=days_since_epoch)).isoformat()


def _uuid4(rng: random.Random) -> str:
    # Same text as str(uuid.UUID(int=bits, version=4)), at a fraction of the cost.
    return _format_uuid4(rng.getrandbits(128))


def _format_uuid4(bits: int) -> str:
    bits = (bits & ~(0xF000 << 64)) | (4 << 76)
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _geometric(rng: random.Random, p: float) -> int:
    return int(math.log(1 - rng.random()) / math.log(1 - p))


def _price(product: Product) -> Decimal:
    """The simulator's catalogue prices every product (a partner's may not)."""
    return product.list_price if product.list_price is not None else Decimal(0)
