from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import orjson

from salesflow.simulator import DefectRates, SimulationSpec, build_catalog, simulate
from salesflow.simulator.traffic import promotions


def _events(spec: SimulationSpec) -> list[dict]:
    return [r.event for r in simulate(spec, build_catalog(spec.seed)) if r.event and r.defect is None]


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    spec = SimulationSpec(events=3_000, seed=11)
    first = [r.line for r in simulate(spec, build_catalog(11))]
    again = [r.line for r in simulate(spec, build_catalog(11))]
    other = [r.line for r in simulate(SimulationSpec(events=3_000, seed=12), build_catalog(12))]
    assert first == again
    assert first != other


def test_exact_record_count_including_defects() -> None:
    records = list(simulate(SimulationSpec(events=4_321, seed=1), build_catalog(1)))
    assert len(records) == 4_321


def test_funnel_is_plausible() -> None:
    counts = Counter(
        e["event_type"] for e in _events(SimulationSpec(events=40_000, seed=2, defects=DefectRates.none()))
    )
    view_to_cart = counts["add_to_cart"] / counts["product_viewed"]
    cart_to_order = counts["order_created"] / counts["add_to_cart"]
    assert 0.1 < view_to_cart < 0.35
    assert 0.2 < cart_to_order < 0.7


def test_weekends_and_evenings_sell_more() -> None:
    events = _events(SimulationSpec(events=60_000, seed=4, days=28, defects=DefectRates.none()))
    by_weekday: Counter[int] = Counter()
    by_hour: Counter[int] = Counter()
    for e in events:
        t = datetime.fromisoformat(e["event_time"].replace("Z", "+00:00"))
        by_weekday[t.weekday()] += 1
        by_hour[t.hour] += 1
    assert by_weekday[5] > 1.2 * by_weekday[0]      # Saturday vs Monday
    assert by_hour[20] > 5 * by_hour[3]              # evening vs night


def test_promotions_raise_demand_and_discount_lines() -> None:
    spec = SimulationSpec(events=80_000, seed=6, days=28, defects=DefectRates.none())
    catalog = build_catalog(6)
    promo = promotions(6, spec.start, spec.days)[0]
    units_in: Counter[bool] = Counter()
    discounted = 0
    for e in _events(spec):
        if e["event_type"] != "order_created":
            continue
        day = date.fromisoformat(e["event_time"][:10])
        for line in e["lines"]:
            if catalog.category_of(line["product_id"]) == promo.category:
                active = promo.first_day <= day <= promo.last_day
                units_in[active] += line["quantity"]
                discounted += active and line["discount"] > 0
    promo_days = (promo.last_day - promo.first_day).days + 1
    assert units_in[True] / promo_days > 1.3 * units_in[False] / (spec.days - promo_days)
    assert discounted > 0


def test_product_prices_and_categories_are_stable() -> None:
    catalog = build_catalog(9)
    seen: dict[str, float] = {}
    for e in _events(SimulationSpec(events=20_000, seed=9, defects=DefectRates.none())):
        for line in e.get("lines", []):
            assert seen.setdefault(line["product_id"], line["unit_price"]) == line["unit_price"]
    assert catalog.category_of("P00000") == build_catalog(9).category_of("P00000")


def test_clean_spec_has_no_defects_and_default_has_a_few() -> None:
    clean = list(simulate(SimulationSpec(events=5_000, seed=1, defects=DefectRates.none()), build_catalog(1)))
    assert all(r.defect is None for r in clean)
    default = list(simulate(SimulationSpec(events=20_000, seed=1), build_catalog(1)))
    share = sum(r.defect is not None for r in default) / len(default)
    assert 0.005 < share < 0.05


def test_many_stores_and_channels() -> None:
    events = _events(SimulationSpec(events=10_000, seed=8, defects=DefectRates.none()))
    assert len({e["store_id"] for e in events}) >= 20
    assert {e["channel"] for e in events} == {"web", "mobile", "store", "marketplace"}
    assert all(orjson.loads(orjson.dumps(e)) for e in events[:10])
