"""Reference data for the simulator: products, customers and stores, deterministic per seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from salesflow.contract.reference import Customer, Product, Store

# (category, typical price, popularity weight, nouns): price levels and weights shape demand.
CATEGORIES: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    ("electronics", 180.0, 1.0, ("Headphones", "Speaker", "Charger", "Monitor", "Tablet")),
    ("books", 18.0, 1.4, ("Novel", "Cookbook", "Atlas", "Biography", "Guide")),
    ("home", 45.0, 1.1, ("Lamp", "Rug", "Vase", "Pillow", "Clock")),
    ("kitchen", 35.0, 1.0, ("Pan", "Knife", "Kettle", "Blender", "Mug")),
    ("fashion", 55.0, 1.3, ("Jacket", "Sneakers", "Scarf", "Dress", "Belt")),
    ("beauty", 25.0, 1.0, ("Serum", "Lipstick", "Shampoo", "Perfume", "Cream")),
    ("sports", 60.0, 0.8, ("Yoga Mat", "Dumbbell", "Racket", "Bottle", "Helmet")),
    ("toys", 30.0, 0.9, ("Puzzle", "Robot", "Doll", "Blocks", "Kite")),
    ("grocery", 8.0, 1.5, ("Coffee", "Tea", "Olive Oil", "Chocolate", "Pasta")),
    ("garden", 40.0, 0.6, ("Hose", "Planter", "Shears", "Seeds", "Lantern")),
)
BRANDS: tuple[str, ...] = ("Acme", "Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Hooli")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
CITIES: tuple[tuple[str, str], ...] = (
    ("New York", "US"), ("Chicago", "US"), ("Austin", "US"), ("Seattle", "US"), ("Miami", "US"),
    ("Toronto", "CA"), ("Vancouver", "CA"), ("London", "GB"), ("Berlin", "DE"), ("Paris", "FR"),
    ("Madrid", "ES"), ("Milan", "IT"),
)
STORE_CHANNELS: tuple[str, ...] = ("store", "web", "mobile", "marketplace")


@dataclass(frozen=True)
class Catalog:
    products: tuple[Product, ...]
    customers: tuple[Customer, ...]
    stores: tuple[Store, ...]

    def category_of(self, product_id: str) -> str:
        return self._by_id[product_id].category or "unknown"  # the simulator's products all have one

    @property
    def _by_id(self) -> dict[str, Product]:
        cache = self.__dict__.get("_product_index")
        if cache is None:
            cache = {p.product_id: p for p in self.products}
            object.__setattr__(self, "_product_index", cache)
        return cache


def build_catalog(
    seed: int, *, products: int = 400, customers: int = 20_000, stores: int = 24,
    as_of: date = date(2026, 1, 1),
) -> Catalog:
    rng = random.Random(f"catalog-{seed}")  # noqa: S311 - not for security: jitter and simulated data
    return Catalog(
        products=tuple(_product(rng, i) for i in range(products)),
        customers=tuple(_customer(rng, i, as_of) for i in range(customers)),
        stores=tuple(_store(rng, i) for i in range(stores)),
    )


def _product(rng: random.Random, i: int) -> Product:
    category, price, _, nouns = CATEGORIES[i % len(CATEGORIES)]
    brand = rng.choice(BRANDS)
    list_price = Decimal(str(round(max(1.0, rng.lognormvariate(0, 0.5) * price), 2)))
    return Product(
        product_id=f"P{i:05d}", name=f"{brand} {rng.choice(nouns)} {i}", category=category,
        brand=brand, list_price=list_price.quantize(Decimal("0.01")),
    )


def _customer(rng: random.Random, i: int, as_of: date) -> Customer:
    segment = rng.choices(("new", "regular", "vip"), weights=(0.3, 0.6, 0.1))[0]
    signup = as_of - timedelta(days=rng.randint(0, 3 * 365))
    return Customer(
        customer_id=f"C{i:06d}", signup_date=signup, region=rng.choice(REGIONS), segment=segment
    )


def _store(rng: random.Random, i: int) -> Store:
    city, country = CITIES[i % len(CITIES)]
    channel = STORE_CHANNELS[i % len(STORE_CHANNELS)]
    return Store(
        store_id=f"S{i:03d}", name=f"{city} {channel}", city=city, country=country, channel=channel
    )
