"""The tenancy matrix: a token of store B can never read or change store A's resources (ARCHITECTURE §3).

Every store-scoped route gets an entry in CASES. To add one (later issues must):

    CASES.append(
        TenancyCase(
            name="vendor product: update",
            method="PATCH",
            path="/api/v1/vendor/products/{product_id}",
            attacker="b_vendor",                      # who tries: b_vendor or b_buyer
            make=make_product,                        # async (world) -> {"id": ..., "table": ..., **values}
            body=lambda r: {"name": "stolen"},        # optional request body from the resource
            expect=(404,),                            # the statuses the spec gives for another store's row
        )
    )

`make` creates the resource in store A (world.a_vendor / world.a_buyer are signed-in owners, world.db a
Database) and returns its row id and table; the test snapshots that row before and after the request and
requires it unchanged, requires the status to be one of `expect`, and requires the response not to
mention the row id (nothing leaks, not even in a list or an error). Routes addressed without an id
(`/me...`) act on the caller's own store, so their entries expect 200 and prove A's row is untouched and
absent from the answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.billing import tenancy as billing_tenancy
from tests.catalog import tenancy as catalog_tenancy
from tests.checkout import tenancy as checkout_tenancy
from tests.fixtures.factories import (
    Account,
    idem,
    invite,
    login,
    register_buyer,
    register_vendor,
    switch_store,
)
from tests.notifications import tenancy as notifications_tenancy
from tests.orders import tenancy as orders_tenancy


@dataclass
class World:
    """Two stores of each type: A (the victim's) and B (the attacker's), each with a signed-in owner."""

    client: httpx.AsyncClient
    db: Database
    settings: Settings
    a_vendor: Account
    a_buyer: Account
    b_vendor: Account
    b_buyer: Account


Resource = dict[str, Any]


@dataclass(frozen=True)
class TenancyCase:
    name: str
    method: str
    path: str
    make: Callable[[World], Awaitable[Resource]]
    expect: tuple[int, ...]
    attacker: Literal["b_vendor", "b_buyer"] = "b_vendor"
    body: Callable[[Resource], Any] | None = None


async def snapshot(db: Database, table: str, row_id: uuid.UUID) -> Any:
    """The whole row as JSON (None when it no longer exists)."""
    async with db.transaction() as session:
        return await session.scalar(text(f"SELECT to_jsonb(t) FROM {table} t WHERE id = :id"), {"id": row_id})


# --- resource makers (store A) -------------------------------------------------------------------


async def a_vendor_store(world: World) -> Resource:
    return {"id": world.a_vendor.store_id, "table": "stores", "store_id": world.a_vendor.store_id}


async def a_buyer_store(world: World) -> Resource:
    return {"id": world.a_buyer.store_id, "table": "stores", "store_id": world.a_buyer.store_id}


async def a_vendor_member(world: World) -> Resource:
    """A staff member of A's vendor store (their membership row)."""
    data = await invite(world.client, world.a_vendor, role="staff")
    membership = data["membership"]
    return {
        "id": uuid.UUID(membership["membership_id"]),
        "table": "store_memberships",
        "user_id": membership["user_id"],
    }


async def a_vendor_owner_membership(world: World) -> Resource:
    async with world.db.transaction() as session:
        membership_id = await session.scalar(
            text("SELECT id FROM store_memberships WHERE store_id = :s AND user_id = :u"),
            {"s": world.a_vendor.store_id, "u": world.a_vendor.user_id},
        )
    return {"id": membership_id, "table": "store_memberships", "user_id": world.a_vendor.user_id}


CASES: list[TenancyCase] = [
    TenancyCase("store: read me", "GET", "/api/v1/stores/me", a_vendor_store, (200,)),
    TenancyCase(
        "store: patch me",
        "PATCH",
        "/api/v1/stores/me",
        a_vendor_store,
        (200,),
        body=lambda r: {"company_name": "Taken over", "description": "pwned"},
    ),
    TenancyCase("members: list", "GET", "/api/v1/stores/me/users", a_vendor_member, (200,)),
    TenancyCase(
        "members: remove A's staff", "DELETE", "/api/v1/stores/me/users/{user_id}", a_vendor_member, (404,)
    ),
    TenancyCase(
        "members: remove A's owner",
        "DELETE",
        "/api/v1/stores/me/users/{user_id}",
        a_vendor_owner_membership,
        (404,),
    ),
    TenancyCase(
        "members: invite into A (lands in B)",
        "POST",
        "/api/v1/stores/me/users/invite",
        a_vendor_owner_membership,
        (201,),
        body=lambda r: {
            "email": "newcomer-tenancy@example.com",
            "first_name": "N",
            "last_name": "C",
            "role": "owner",
        },
    ),
    TenancyCase(
        "auth: switch into A",
        "POST",
        "/api/v1/auth/switch-store",
        a_vendor_store,
        (403,),
        body=lambda r: {"store_id": str(r["store_id"])},
    ),
    TenancyCase(
        "auth: switch into A as a buyer",
        "POST",
        "/api/v1/auth/switch-store",
        a_buyer_store,
        (403,),
        attacker="b_buyer",
        body=lambda r: {"store_id": str(r["store_id"])},
    ),
    TenancyCase("stores: my stores", "GET", "/api/v1/stores/my", a_vendor_store, (200,)),
    # A's vendor store is not visible to buyers (KYC pending): its profile cannot be probed.
    TenancyCase(
        "stores: hidden vendor profile",
        "GET",
        "/api/v1/stores/{store_id}",
        a_vendor_store,
        (404,),
        attacker="b_buyer",
    ),
]
CASES.extend(checkout_tenancy.cases(TenancyCase))
CASES.extend(catalog_tenancy.cases(TenancyCase))
CASES.extend(orders_tenancy.cases(TenancyCase))
CASES.extend(notifications_tenancy.cases(TenancyCase))
CASES.extend(billing_tenancy.cases(TenancyCase))


@pytest.fixture
async def world(client: httpx.AsyncClient, db: Database, settings: Settings) -> World:
    return World(
        client=client,
        db=db,
        settings=settings,
        a_vendor=await register_vendor(client),
        a_buyer=await register_buyer(client),
        b_vendor=await register_vendor(client),
        b_buyer=await register_buyer(client),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_store_b_cannot_reach_store_a(world: World, case: TenancyCase) -> None:
    resource = await case.make(world)
    before = await snapshot(world.db, resource["table"], resource["id"])
    assert before is not None
    attacker: Account = getattr(world, case.attacker)
    body = case.body(resource) if case.body else None
    path = case.path.format(**{k: v for k, v in resource.items() if k not in ("table",)})
    response = await world.client.request(
        case.method, path, json=body, headers={**attacker.headers, **idem()}
    )
    assert response.status_code in case.expect, (case.name, response.status_code, response.text)
    assert await snapshot(world.db, resource["table"], resource["id"]) == before, case.name
    assert str(resource["id"]) not in response.text, case.name


async def test_a_former_member_keeps_no_access(world: World) -> None:
    """B's owner was a member of A; after removal, their token for A stops working on every A route."""
    await invite(world.client, world.a_vendor, email=world.b_vendor.email, role="manager")
    member = await login(world.client, world.b_vendor.email, world.b_vendor.password)
    member = await switch_store(world.client, member, world.a_vendor.store_id)  # type: ignore[arg-type]
    assert (await world.client.get("/api/v1/stores/me", headers=member.headers)).status_code == 200
    removed = await world.client.delete(
        f"/api/v1/stores/me/users/{world.b_vendor.user_id}", headers=world.a_vendor.headers
    )
    assert removed.status_code == 204
    for method, path in (
        ("GET", "/api/v1/stores/me"),
        ("PATCH", "/api/v1/stores/me"),
        ("GET", "/api/v1/stores/me/users"),
        ("POST", "/api/v1/stores/me/users/invite"),
        ("DELETE", f"/api/v1/stores/me/users/{world.a_vendor.user_id}"),
    ):
        response = await world.client.request(method, path, json={}, headers={**member.headers, **idem()})
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["message"] == "store membership required"


async def test_agents_reach_only_their_own_orders(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await orders_tenancy.agents_reach_only_their_own_orders(client, db, settings)
