"""Deterministic synthetic catalog data: realistic vendors and products for demo, scale and bench seeds."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from packfinderz.models.catalog import FEELINGS, FLAVORS, USAGE

# (code, centre lat, centre lng, lat half-span, lng half-span, share of vendors)
STATES = (
    ("CA", 36.78, -119.42, 3.5, 3.0, 0.24),
    ("CO", 39.00, -105.55, 1.4, 2.8, 0.10),
    ("WA", 47.40, -120.50, 1.2, 2.8, 0.10),
    ("OR", 44.00, -120.55, 1.6, 2.6, 0.08),
    ("MI", 43.60, -84.70, 1.6, 1.6, 0.10),
    ("IL", 40.00, -89.20, 2.0, 1.0, 0.08),
    ("NV", 38.50, -117.00, 2.8, 1.8, 0.05),
    ("AZ", 34.20, -111.70, 2.0, 2.0, 0.07),
    ("MA", 42.30, -71.80, 0.4, 1.2, 0.07),
    ("NY", 42.90, -75.50, 1.3, 2.8, 0.11),
)
RADII = (0, 0, 0, 0, 50_000, 100_000, 150_000, 250_000, 400_000)

STRAINS = (
    "Blue Dream",
    "OG Kush",
    "Sour Diesel",
    "Girl Scout Cookies",
    "Gelato",
    "Wedding Cake",
    "Gorilla Glue",
    "Granddaddy Purple",
    "Pineapple Express",
    "Jack Herer",
    "Northern Lights",
    "White Widow",
    "Green Crack",
    "Durban Poison",
    "Bubba Kush",
    "Purple Haze",
    "Zkittlez",
    "Runtz",
    "Ice Cream Cake",
    "Mimosa",
    "Tangie",
    "Strawberry Cough",
    "Super Lemon Haze",
    "Trainwreck",
    "AK-47",
    "Cherry Pie",
    "Do-Si-Dos",
    "Sherbet",
    "Biscotti",
    "Apple Fritter",
    "Lemon Cherry Gelato",
    "Jealousy",
    "Permanent Marker",
    "MAC",
    "Chemdawg",
    "Headband",
    "Skywalker OG",
    "Master Kush",
    "Hindu Kush",
    "Afghan Kush",
    "Harlequin",
    "ACDC",
    "Charlotte's Web",
    "Cannatonic",
    "Ringo's Gift",
    "Pennywise",
    "Sour Tangie",
    "Forbidden Fruit",
    "Blueberry",
    "Maui Wowie",
    "Golden Goat",
    "Lemon Skunk",
    "Super Silver Haze",
    "Grape Ape",
    "Platinum OG",
    "Fire OG",
    "Tahoe OG",
    "Banana Kush",
    "Cookies and Cream",
    "Slurricane",
    "Gary Payton",
    "Cereal Milk",
    "Georgia Pie",
    "Oreoz",
    "Peanut Butter Breath",
    "Kush Mints",
    "Animal Mints",
    "Mochi",
    "Papaya",
    "Candyland",
    "Orange Creamsicle",
    "Gushers",
    "Motorbreath",
    "Triangle Kush",
    "Star Killer",
    "Hawaiian Snow",
    "Critical Mass",
    "Alaskan Thunderfuck",
    "Cinex",
    "Clementine",
    "Ghost Train Haze",
    "Kosher Kush",
    "Purple Punch",
    "Sunset Sherbet",
    "Thin Mint",
    "Lava Cake",
    "Bruce Banner",
    "Dutch Treat",
    "Island Sweet Skunk",
    "Agent Orange",
    "Black Cherry Soda",
    "Candy Kush",
    "Death Star",
    "Ghost OG",
    "Larry OG",
    "Mango Kush",
    "Obama Kush",
    "Pink Kush",
    "Purple Urkle",
    "Blue Cheese",
    "London Pound Cake",
    "Modified Grapes",
    "Rainbow Belts",
    "Tropicana Cookies",
)
BRANDS = (
    "Emerald Coast Farms",
    "High Desert Growers",
    "Pacific Bloom",
    "Green Valley Co",
    "Sun Grown Collective",
    "Mountain Peak Cannabis",
    "Golden State Greens",
    "Redwood Reserve",
    "Canyon Craft",
    "Evergreen Extracts",
    "Lakeside Labs",
    "North Star Botanicals",
    "Prairie Fire",
    "Coastal Cure",
    "Silver Leaf",
    "Blue Ridge Buds",
    "Harbor Hemp",
    "Wildflower Wellness",
    "Stone Creek",
    "Urban Roots",
    "Big Sky Farms",
    "Desert Bloom",
    "Timberline Terps",
    "Riverbend Organics",
    "Cloud Nine Confections",
    "Sweet Leaf Kitchen",
    "Apex Vapor",
    "Pure Drop Tinctures",
    "Glass House Goods",
    "Old Mill Seeds",
)
ADJECTIVES = (
    "small batch",
    "hand trimmed",
    "slow cured",
    "sun grown",
    "indoor",
    "greenhouse",
    "solventless",
    "single origin",
    "terpene rich",
    "lab tested",
    "premium",
    "craft",
    "limited release",
    "fresh frozen",
)
WORDS = (
    "aroma",
    "notes",
    "of",
    "with",
    "and",
    "a",
    "smooth",
    "finish",
    "dense",
    "frosty",
    "buds",
    "grown",
    "in",
    "living",
    "soil",
    "hints",
    "bright",
    "earthy",
    "sweet",
    "gas",
    "fuel",
    "pine",
    "berry",
    "citrus",
    "cream",
    "vanilla",
    "spice",
    "balanced",
    "effect",
    "relaxing",
    "uplifting",
    "evening",
    "daytime",
    "harvest",
    "cultivar",
    "phenotype",
    "cross",
    "lineage",
    "batch",
    "tested",
    "potency",
    "consistent",
    "flavor",
    "profile",
    "resin",
    "trichomes",
    "cured",
    "packaged",
    "nitrogen",
    "sealed",
    "jar",
    "pack",
)
# category -> (weight, unit, noun, sizes, price range in cents per unit, thc range, cbd range)
CATEGORY_PROFILES: dict[
    str,
    tuple[
        int,
        str,
        str,
        tuple[str, ...],
        tuple[int, int],
        tuple[float, float] | None,
        tuple[float, float] | None,
    ],
] = {
    "flower": (25, "eighth", "Flower", ("3.5g", "7g", "14g", "28g"), (1200, 4500), (14.0, 33.0), (0.0, 2.0)),
    "cart": (11, "unit", "Cart", ("0.5g", "1g"), (1500, 4000), (65.0, 92.0), (0.0, 3.0)),
    "pre_roll": (11, "unit", "Pre-Roll", ("1g", "5 pack", "0.5g"), (500, 3000), (16.0, 35.0), (0.0, 2.0)),
    "edible": (11, "unit", "Gummies", ("100mg", "10 pack", "200mg"), (800, 2500), (0.0, 5.0), (0.0, 5.0)),
    "concentrate": (10, "gram", "Live Resin", ("1g", "2g"), (2000, 6000), (60.0, 90.0), (0.0, 5.0)),
    "beverage": (4, "unit", "Seltzer", ("12oz", "4 pack"), (500, 1800), (0.0, 2.0), (0.0, 2.0)),
    "vape": (8, "unit", "Disposable Vape", ("0.3g", "1g"), (1500, 4500), (70.0, 90.0), (0.0, 3.0)),
    "topical": (4, "unit", "Balm", ("1oz", "2oz"), (1500, 5000), (0.0, 10.0), (5.0, 40.0)),
    "tincture": (5, "unit", "Tincture", ("15ml", "30ml"), (2000, 6000), (0.0, 30.0), (5.0, 60.0)),
    "seed": (3, "unit", "Seeds", ("5 pack", "10 pack"), (3000, 12000), None, None),
    "seedling": (2, "unit", "Clone", ("single", "tray of 12"), (1000, 9000), None, None),
    "accessory": (6, "unit", "Grinder", ("small", "large"), (500, 5000), None, None),
}
CLASSIFICATION_WEIGHTS = (
    ("hybrid", 35),
    ("indica", 25),
    ("sativa", 25),
    ("cbd", 6),
    ("balanced", 5),
    ("hemp", 4),
)


@dataclass(frozen=True)
class VendorSpec:
    """A synthetic vendor store: location, gate facts and how many products it lists."""

    id: uuid.UUID
    owner_user_id: uuid.UUID
    company_name: str
    state: str
    city: str
    postal_code: str
    lat: float
    lng: float
    delivery_radius_meters: int
    kyc_status: str
    subscription_active: bool
    sku_prefix: str
    product_count: int


PRODUCT_COLUMNS = (
    "id", "store_id", "vendor_state", "sku", "title", "subtitle", "body_html", "brand", "strain",
    "category", "classification", "unit", "feelings", "flavors", "usage", "moq", "max_qty", "price_cents",
    "compare_at_price_cents", "is_active", "thc_percent", "cbd_percent", "has_promo", "created_at",
    "updated_at",
)  # fmt: skip
INVENTORY_COLUMNS = ("product_id", "available_qty", "reserved_qty", "low_stock_threshold", "updated_at")
DISCOUNT_COLUMNS = ("id", "store_id", "product_id", "min_qty", "discount_percent", "created_at")


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def state_point(rng: random.Random, state: str) -> tuple[float, float]:
    """A random point inside the rough extent of a state (enough for gate and distance tests)."""
    for code, lat, lng, dlat, dlng, _ in STATES:
        if code == state:
            return round(lat + rng.uniform(-dlat, dlat), 6), round(lng + rng.uniform(-dlng, dlng), 6)
    raise ValueError(f"unknown state {state}")


def vendors(count: int, products: int, *, seed: int = 7, visible_share: float = 0.85) -> list[VendorSpec]:
    """`count` vendors spread over the states; their product counts add up to `products`."""
    rng = random.Random(seed)
    codes = [s[0] for s in STATES]
    weights = [s[5] for s in STATES]
    shares = [rng.uniform(0.3, 1.7) for _ in range(count)]
    total = sum(shares) or 1.0
    counts = [int(products * s / total) for s in shares]
    for i in range(products - sum(counts)):
        counts[i % count] += 1
    result = []
    for i in range(count):
        state = rng.choices(codes, weights)[0]
        lat, lng = state_point(rng, state)
        # Hidden vendors fail exactly one gate condition: KYC or subscription.
        hidden = rng.random() >= visible_share
        unverified = hidden and rng.random() < 0.5
        result.append(
            VendorSpec(
                id=_uuid(rng),
                owner_user_id=_uuid(rng),
                company_name=f"{rng.choice(BRANDS)} {i + 1}",
                state=state,
                city=f"{state} City {rng.randint(1, 40)}",
                postal_code=f"{rng.randint(10000, 99999)}",
                lat=lat,
                lng=lng,
                delivery_radius_meters=rng.choice(RADII),
                kyc_status=rng.choice(("pending_verification", "suspended")) if unverified else "verified",
                subscription_active=not hidden or unverified,
                sku_prefix=f"V{i + 1:05d}",
                product_count=counts[i],
            )
        )
    return result


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


_CATEGORY_PAIRS = tuple((name, profile[0]) for name, profile in CATEGORY_PROFILES.items())


def products(
    vendor: VendorSpec, *, seed: int, now: datetime | None = None
) -> Iterator[tuple[tuple[object, ...], tuple[object, ...], list[tuple[object, ...]]]]:
    """Rows (product, inventory, tiers) for one vendor, in PRODUCT/INVENTORY/DISCOUNT_COLUMNS order."""
    rng = random.Random(seed)
    moment = now or datetime.now(UTC)
    for index in range(vendor.product_count):
        category = _weighted(rng, _CATEGORY_PAIRS)
        _, unit, noun, sizes, (low, high), thc_range, cbd_range = CATEGORY_PROFILES[category]
        strain = rng.choice(STRAINS) if thc_range is not None else None
        brand = rng.choice(BRANDS)
        size = rng.choice(sizes)
        title = f"{strain} {noun} {size}" if strain else f"{brand.split()[0]} {noun} {size}"
        product_id = _uuid(rng)
        price = rng.randint(low, high) // 5 * 5
        moq = rng.choice((1, 1, 1, 2, 5, 10))
        created = moment - timedelta(
            seconds=rng.randint(0, 730 * 86400), microseconds=rng.randint(0, 999_999)
        )
        words = rng.sample(WORDS, 14)
        body = f"<p>{rng.choice(ADJECTIVES).capitalize()} {' '.join(words)}.</p>"
        tiers: list[tuple[object, ...]] = []
        if rng.random() < 0.2:
            for step, pct in list(zip((10, 25, 50), ("5", "10", "15"), strict=True))[: rng.randint(1, 3)]:
                tiers.append((_uuid(rng), vendor.id, product_id, step * moq, Decimal(pct), created))
        product = (
            product_id,
            vendor.id,
            vendor.state,
            f"{vendor.sku_prefix}-{index + 1:06d}",
            title,
            rng.choice(ADJECTIVES).capitalize() if rng.random() < 0.5 else None,
            body,
            brand,
            strain,
            category,
            _weighted(rng, CLASSIFICATION_WEIGHTS) if thc_range is not None else None,
            unit,
            rng.sample(FEELINGS, rng.randint(1, 3)),
            rng.sample(FLAVORS, rng.randint(1, 3)),
            rng.sample(USAGE, rng.randint(1, 2)),
            moq,
            0 if rng.random() < 0.7 else moq * rng.choice((10, 50, 100)),
            price,
            price + price // 5 if rng.random() < 0.15 else None,
            rng.random() < 0.92,
            Decimal(f"{rng.uniform(*thc_range):.2f}") if thc_range else None,
            Decimal(f"{rng.uniform(*cbd_range):.2f}") if cbd_range else None,
            bool(tiers),
            created,
            created,
        )
        inventory = (product_id, rng.choice((0, 5, 25, 100, 250, 1000, 2500)), 0, 10, created)
        yield product, inventory, tiers
