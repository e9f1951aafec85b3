"""`packfinderz seed`: a small demo marketplace, or a large synthetic catalog loaded with COPY."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from packfinderz.auth import repository as users
from packfinderz.auth import service as auth_service
from packfinderz.billing import seed as billing_seed
from packfinderz.catalog import synthetic
from packfinderz.catalog.synthetic import VendorSpec
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.security import Passwords
from packfinderz.models.identity import Store, User
from packfinderz.stores import repository as stores

DEMO_PASSWORD = "packfinderz-demo"  # noqa: S105 - demo accounts of dev databases
SCALE_PASSWORD = "packfinderz-scale"  # noqa: S105 - synthetic accounts of dev and bench databases
DEMO_DOMAIN = "demo.example.com"
BATCH = 20_000

USER_COLUMNS = ("id", "email", "password_hash", "first_name", "last_name", "password_changed_at")
STORE_COLUMNS = (
    "id", "type", "company_name", "kyc_status", "subscription_active", "address_line1", "address_city",
    "address_state", "address_postal_code", "lat", "lng", "delivery_radius_meters", "owner_user_id",
)  # fmt: skip
MEMBERSHIP_COLUMNS = ("store_id", "user_id", "role", "status")


@dataclass(frozen=True)
class Login:
    """An account the seed created, for the operator to sign in with."""

    role: str
    email: str
    password: str
    store: str | None = None


# --- scale -----------------------------------------------------------------------------------------


def _store_row(spec: VendorSpec, store_type: str = "vendor") -> tuple[object, ...]:
    return (
        spec.id,
        store_type,
        spec.company_name,
        spec.kyc_status,
        spec.subscription_active,
        "1 Market St",
        spec.city,
        spec.state,
        spec.postal_code,
        spec.lat,
        spec.lng,
        spec.delivery_radius_meters,
        spec.owner_user_id,
    )


def buyers(seed: int) -> list[VendorSpec]:
    """One verified buyer per state, at a random point of it (the benchmark signs in as them)."""
    rng = random.Random(seed + 1)
    result = []
    for code, *_ in synthetic.STATES:
        lat, lng = synthetic.state_point(rng, code)
        result.append(
            VendorSpec(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                owner_user_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                company_name=f"Dispensary {code} {seed}",
                state=code,
                city=f"{code} City",
                postal_code="10001",
                lat=lat,
                lng=lng,
                delivery_radius_meters=0,
                kyc_status="verified",
                subscription_active=False,
                sku_prefix="",
                product_count=0,
            )
        )
    return result


def scale_email(kind: str, index: int | str, seed: int) -> str:
    return f"{kind}-{index}-{seed}@scale.example.com".lower()


async def _copy(connection: AsyncConnection, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    if not rows:
        return
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table, records=rows, columns=list(columns))  # type: ignore[union-attr]


Batch = tuple[list[Any], list[Any], list[Any]]


def _batches(specs: list[VendorSpec], seed: int, now: datetime) -> Iterator[Batch]:
    """(products, inventory, tiers) rows in batches of about BATCH products, vendor by vendor."""
    batch: Batch = ([], [], [])
    for index, spec in enumerate(specs):
        for product, inventory, tiers in synthetic.products(spec, seed=seed * 100_003 + index, now=now):
            batch[0].append(product)
            batch[1].append(inventory)
            batch[2].extend(tiers)
        if len(batch[0]) >= BATCH:
            yield batch
            batch = ([], [], [])
    if batch[0]:
        yield batch


async def seed_scale(
    database: Database,
    settings: Settings,
    *,
    products: int,
    vendors: int,
    seed: int,
    progress: Callable[[int], None] = lambda _: None,
) -> list[Login]:
    """Load `vendors` vendor stores (with owners) and `products` products with inventory and tiers.

    Rows go in with COPY, in batches of 20 000 products, one transaction for the whole load; the
    tables are analyzed afterwards so the planner sees the new sizes.
    """
    specs = synthetic.vendors(vendors, products, seed=seed)
    shoppers = buyers(seed)
    password_hash = await Passwords(settings).hash(SCALE_PASSWORD)
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        people = [
            (s.owner_user_id, scale_email("vendor", i, seed), password_hash, "Vendor", "Owner", now)
            for i, s in enumerate(specs)
        ] + [
            (b.owner_user_id, scale_email("buyer", b.state, seed), password_hash, "Buyer", "Owner", now)
            for b in shoppers
        ]
        await _copy(connection, "users", USER_COLUMNS, people)
        stores_rows = [_store_row(s) for s in specs] + [_store_row(b, "buyer") for b in shoppers]
        await _copy(connection, "stores", STORE_COLUMNS, stores_rows)
        memberships = [(s.id, s.owner_user_id, "owner", "active") for s in [*specs, *shoppers]]
        await _copy(connection, "store_memberships", MEMBERSHIP_COLUMNS, memberships)
        # Generate the next batch in a thread while Postgres ingests the current one.
        batches = _batches(specs, seed, now)
        pending = asyncio.create_task(asyncio.to_thread(next, batches, None))
        while (batch := await pending) is not None:
            pending = asyncio.create_task(asyncio.to_thread(next, batches, None))
            await _copy(connection, "products", synthetic.PRODUCT_COLUMNS, batch[0])
            await _copy(connection, "inventory_items", synthetic.INVENTORY_COLUMNS, batch[1])
            await _copy(connection, "product_volume_discounts", synthetic.DISCOUNT_COLUMNS, batch[2])
            progress(len(batch[0]))
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("users", "stores", "store_memberships", "products", "inventory_items"):
            await autocommit.execute(text(f"VACUUM (ANALYZE) {table}"))
        await autocommit.execute(text("ANALYZE product_volume_discounts"))
    return [
        Login("buyer", scale_email("buyer", b.state, seed), SCALE_PASSWORD, b.company_name) for b in shoppers
    ] + [Login("vendor", scale_email("vendor", 0, seed), SCALE_PASSWORD, specs[0].company_name)]


# --- demo ------------------------------------------------------------------------------------------

# (company, city, state, lat, lng, delivery radius in metres)
DEMO_VENDORS = (
    ("Mile High Growers", "Denver", "CO", 39.7392, -104.9903, 0),
    ("Boulder Botanicals", "Boulder", "CO", 40.0150, -105.2705, 60_000),
    ("Front Range Extracts", "Colorado Springs", "CO", 38.8339, -104.8214, 40_000),
    ("Golden State Farms", "Los Angeles", "CA", 34.0522, -118.2437, 0),
    ("Bay Area Cultivators", "San Francisco", "CA", 37.7749, -122.4194, 120_000),
    ("Emerald Triangle Co", "Eureka", "CA", 40.8021, -124.1637, 80_000),
)
DEMO_BUYERS = (
    ("Denver Green Dispensary", "Denver", "CO", 39.7508, -104.9966),
    ("Aurora Wellness", "Aurora", "CO", 39.7294, -104.8319),
    ("Venice Beach Collective", "Los Angeles", "CA", 33.9850, -118.4695),
    ("Mission District Dispensary", "San Francisco", "CA", 37.7599, -122.4148),
)
PRODUCTS_PER_DEMO_VENDOR = 24


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


async def _demo_store(
    session: AsyncSession,
    password_hash: str,
    *,
    store_type: str,
    company: str,
    city: str,
    state: str,
    lat: float,
    lng: float,
    radius: int = 0,
) -> Store:
    """A verified store with its owner, who signs in with DEMO_PASSWORD (vendors subscribe afterwards)."""
    email = f"{_slug(company)}@{DEMO_DOMAIN}"
    user = await users.insert_user(
        session,
        email=email,
        password_hash=password_hash,
        first_name=company.split(maxsplit=1)[0],
        last_name="Owner",
        password_changed_at=datetime.now(UTC),
    )
    store = await stores.insert_store(
        session,
        type=store_type,
        company_name=company,
        owner_user_id=user.id,
        kyc_status="verified",
        address_line1="1 Main St",
        address_city=city,
        address_state=state,
        address_postal_code="80202" if state == "CO" else "90012",
        lat=lat,
        lng=lng,
        delivery_radius_meters=radius,
    )
    await stores.insert_membership(session, store_id=store.id, user_id=user.id, role="owner", status="active")
    return store


def demo_logins() -> list[Login]:
    """Every account the demo seed creates."""
    system = [Login(role, f"{role}@{DEMO_DOMAIN}", DEMO_PASSWORD) for role in ("admin", "agent")]
    vendors = [Login("vendor", f"{_slug(v[0])}@{DEMO_DOMAIN}", DEMO_PASSWORD, v[0]) for v in DEMO_VENDORS]
    buyers = [Login("buyer", f"{_slug(b[0])}@{DEMO_DOMAIN}", DEMO_PASSWORD, b[0]) for b in DEMO_BUYERS]
    return system + vendors + buyers


async def demo_present(database: Database) -> bool:
    """True once the demo admin exists (seeding twice is a no-op)."""
    async with database.transaction() as session:
        found = await session.scalar(
            select(func.count()).select_from(User).where(User.email == f"admin@{DEMO_DOMAIN}")
        )
    return bool(found)


async def seed_demo(database: Database, settings: Settings) -> list[Login]:
    """Admin, agent, verified buyers and vendors in CO and CA, products with tiers and stock."""
    passwords = Passwords(settings)
    password_hash = await passwords.hash(DEMO_PASSWORD)  # one Argon2 run for every store owner
    async with database.transaction() as session:
        for role in ("admin", "agent"):
            await auth_service.create_system_user(
                session,
                passwords,
                role=role,
                email=f"{role}@{DEMO_DOMAIN}",
                first_name=role.title(),
                last_name="Demo",
                password=DEMO_PASSWORD,
            )
        vendor_specs = []
        for index, (company, city, state, lat, lng, radius) in enumerate(DEMO_VENDORS):
            store = await _demo_store(
                session,
                password_hash,
                store_type="vendor",
                company=company,
                city=city,
                state=state,
                lat=lat,
                lng=lng,
                radius=radius,
            )
            vendor_specs.append(
                VendorSpec(
                    id=store.id,
                    owner_user_id=store.owner_user_id,
                    company_name=company,
                    state=state,
                    city=city,
                    postal_code=store.address_postal_code,
                    lat=lat,
                    lng=lng,
                    delivery_radius_meters=radius,
                    kyc_status="verified",
                    subscription_active=True,
                    sku_prefix=f"D{index + 1:02d}",
                    product_count=PRODUCTS_PER_DEMO_VENDOR,
                )
            )
        for company, city, state, lat, lng in DEMO_BUYERS:
            await _demo_store(
                session,
                password_hash,
                store_type="buyer",
                company=company,
                city=city,
                state=state,
                lat=lat,
                lng=lng,
            )
        connection = await session.connection()
        for index, spec in enumerate(vendor_specs):
            rows = list(synthetic.products(spec, seed=1000 + index))
            await _copy(connection, "products", synthetic.PRODUCT_COLUMNS, [r[0] for r in rows])
            await _copy(connection, "inventory_items", synthetic.INVENTORY_COLUMNS, [r[1] for r in rows])
            await _copy(
                connection,
                "product_volume_discounts",
                synthetic.DISCOUNT_COLUMNS,
                [t for r in rows for t in r[2]],
            )
    # Real sandbox subscriptions (money-ads-analytics.md §1): the flag follows billing, not a hand-set value.
    await billing_seed.subscribe_demo_vendors(database, settings, [spec.id for spec in vendor_specs])
    return demo_logins()
