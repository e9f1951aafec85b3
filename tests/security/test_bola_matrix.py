"""A standing BOLA/BFLA matrix (issue #17): every route of the OpenAPI document, called with another
store's ids and by each caller that has no right to it, must never answer 2xx.

How it works
------------
* Every operation of the app's OpenAPI document is classified by its path (RULES, first match wins):
  `admin`, `agent`, `store`, `user` (signed in, no store needed) or a skipped group with its reason.
* Path parameters are filled from store A's real objects (FOREIGN): an order, product, media, license,
  cart, checkout group, notification, invitation, member, store of A.
* Callers: the owners of stores B (BOLA: A's ids), the admin, an agent and a signed-in user without a
  store (BFLA: the wrong group), A's buyer on vendor routes and A's vendor on buyer routes (wrong store
  type), A's staff on owner/manager routes (wrong store role, MANAGER_ONLY).
* Any 2xx fails, unless (method, path, caller) is in ALLOWED with the reason it is by design.

New routes are covered the day they are added. A route the matrix cannot call yet fails
`test_every_route_is_covered` until it is taught: add its path parameter to FOREIGN (and the object to
`world`), add a body to BODIES, or list it in UNPARAMETRISED with the reason. Stale entries fail too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.checkout import line, quote
from tests.fixtures.compliance import submit_license, uploaded
from tests.fixtures.factories import (
    Account,
    accept_invitations,
    auth_headers,
    create_admin,
    create_agent,
    idem,
    invite,
    login,
    login_token,
    make_vendor_visible,
    register_buyer,
    register_vendor,
    set_store_kyc,
    switch_store,
)
from tests.fixtures.orders import place

# (path prefix, group), first match wins; a group starting with "skip:" is not called, for that reason.
RULES: list[tuple[str, str]] = [
    ("/health/", "skip: liveness and readiness are public by design (platform.md §2)"),
    ("/api/admin/v1/auth/", "skip: admin sign-in is public by design (identity.md §6.5)"),
    (
        "/api/v1/auth/",
        "skip: sign-in, refresh, logout act on the caller's own session (tenancy: switch-store)",
    ),
    ("/api/storage/v1/", "skip: authorised by URL signature, not by role (tests/storage/test_local_http.py)"),
    ("/api/v1/webhooks/", "skip: authorised by the provider's signature"),
    ("/api/v1/address/", "skip: address lookup is public (identity.md §15)"),
    ("/api/admin/v1/", "admin"),
    ("/api/v1/agent/", "agent"),
    ("/api/v1/invitations", "user"),
    ("/api/v1/stores/my", "user"),
    ("/api/v1/", "store"),
]

# path parameter -> key of World.ids (an object of store A)
FOREIGN: dict[str, str] = {
    "order_id": "order",
    "product_id": "product",
    "media_id": "media",
    "license_id": "license",
    "identifier": "checkout_group",
    "notification_id": "notification",
    "invitation_id": "invitation",
    "user_id": "a_staff_user",
    "store_id": "a_vendor_store",
    "ad_id": "ad",
    "method_id": "payment_method",
    "plan_id": "plan",
    "subscription_id": "subscription",
    "review_id": "review",
    "buyer_store_id": "a_buyer_store",
}

# Bodies that name A's objects (the default body of a write is `{}`: guards answer before validation).
BODIES: dict[tuple[str, str], Callable[[dict[str, str]], Any]] = {
    ("POST", "/api/v1/checkout"): lambda ids: {
        "cart_id": ids["cart"],
        "shipping_address": {
            "line1": "1 Dock St",
            "city": "Oklahoma City",
            "state": "OK",
            "postal_code": "73102",
            "country": "US",
            "lat": 35.4676,
            "lng": -97.5164,
        },
        "payment_method": "cash",
    },
    ("POST", "/api/v1/licenses"): lambda ids: {
        "media_id": ids["media"],
        "issuing_state": "OK",
        "type": "dispensary",
        "number": f"M-{uuid.uuid4().hex[:8]}",
    },
    ("PATCH", "/api/v1/stores/me"): lambda ids: {"logo_media_id": ids["media"]},
    ("POST", "/api/v1/vendor/orders/{order_id}/line-items/decision"): lambda ids: {
        "line_item_id": ids["line_item"],
        "decision": "reject",
    },
    ("POST", "/api/v1/vendor/orders/{order_id}/decision"): lambda ids: {"decision": "reject"},
}

# Routes the matrix cannot call meaningfully yet: (method, path) -> reason.
UNPARAMETRISED: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/invitations"): "lists only the caller's own invitations; no id to misuse "
    "(tests/security/test_invitations.py)",
    (
        "GET",
        "/api/v1/stores/my",
    ): "lists only the caller's own stores; no id to misuse (tests/identity/test_stores.py)",
}

# Store routes only owners and managers may use (identity.md §3); A's staff must be refused.
MANAGER_ONLY: set[tuple[str, str]] = {
    ("PATCH", "/api/v1/stores/me"),
    ("GET", "/api/v1/stores/me/users"),
    ("POST", "/api/v1/stores/me/users/invite"),
    ("DELETE", "/api/v1/stores/me/users/{user_id}"),
    ("DELETE", "/api/v1/licenses/{license_id}"),
    ("POST", "/api/v1/vendor/products"),
}

VENDOR_PREFIXES = ("/api/v1/vendor/", "/api/v1/inventory")
BUYER_ONLY_PREFIXES = ("/api/v1/cart", "/api/v1/checkout")
BUYER_ONLY_SUFFIXES = ("/cancel", "/nudge", "/retry")

# 2xx that is right by design: (method, path, caller) -> reason.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("GET", "/api/v1/stores/{store_id}", "b_buyer"): "a visible vendor's public profile (identity.md §8)",
    (
        "GET",
        "/api/v1/stores/{store_id}",
        "b_vendor",
    ): "any store user reads a public profile (identity.md §8)",
    (
        "GET",
        "/api/v1/stores/{store_id}/products",
        "b_buyer",
    ): "a visible vendor's storefront (commerce.md §5.4)",
    ("GET", "/api/v1/stores/{store_id}/orders", "b_buyer"): "B's own orders with that vendor (none of A's)",
    ("GET", "/api/v1/stores/{store_id}/orders/totals", "b_buyer"): "B's own totals with that vendor",
    ("GET", "/api/v1/products/{product_id}", "b_buyer"): "a visible vendor's product (commerce.md §5.3)",
    (
        "GET",
        "/api/v1/stores/{store_id}/reviews",
        "b_vendor",
    ): "any store user reads a vendor's reviews (identity.md §14)",
    (
        "GET",
        "/api/v1/stores/{store_id}/reviews",
        "b_buyer",
    ): "a visible vendor's reviews (identity.md §14)",
    (
        "DELETE",
        "/api/v1/wishlist/items/{product_id}",
        "b_vendor",
    ): "removes from B's own wishlist: 204 also when absent (identity.md §13); A's rows untouched",
    (
        "DELETE",
        "/api/v1/wishlist/items/{product_id}",
        "b_buyer",
    ): "removes from B's own wishlist: 204 also when absent (identity.md §13); A's rows untouched",
    (
        "GET",
        "/api/v1/vendor/billing/plans/{plan_id}",
        "b_vendor",
    ): "plans are the platform's price list, the same for every vendor (money-ads-analytics.md §1.3)",
}


@dataclass
class World:
    """Store A's objects, and every caller of the matrix with its headers."""

    ids: dict[str, str] = field(default_factory=dict)
    callers: dict[str, dict[str, str]] = field(default_factory=dict)


def group_of(path: str) -> str | None:
    return next((group for prefix, group in RULES if path.startswith(prefix)), None)


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) of every route in the OpenAPI document."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, operation))
    return sorted(found, key=lambda op: (op[1], op[0]))


def path_params(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]


def callers_for(method: str, path: str, group: str, params: list[str]) -> list[str]:
    """Who must never get a 2xx from this operation with A's ids."""
    names: list[str] = []
    names_foreign = ["b_vendor", "b_buyer"] if params or (method, path) in BODIES else []
    if group == "admin":
        names = ["a_vendor", "b_buyer", "agent", "storeless", "a_staff"]
    elif group == "agent":
        names = ["a_vendor", "a_buyer", "admin", "storeless"]
    elif group == "user":
        names = names_foreign
    elif group == "store":
        names = [*names_foreign, "admin", "agent", "storeless"]
        if path.startswith(VENDOR_PREFIXES):
            names.append("a_buyer")
        if path.startswith(BUYER_ONLY_PREFIXES) or (
            path.startswith("/api/v1/orders/") and path.endswith(BUYER_ONLY_SUFFIXES)
        ):
            names.append("a_vendor")
        if (method, path) in MANAGER_ONLY:
            names.append("a_staff")
    return [name for name in names if (method, path, name) not in ALLOWED]


def test_every_route_is_covered(app: FastAPI) -> None:
    """Each route is classified and parametrised, or listed with a reason; no list keeps stale entries."""
    problems = []
    for method, path, operation in operations(app):
        if (method, path) in UNPARAMETRISED:
            continue
        group = group_of(path)
        if group is None:
            problems.append(f"{method} {path}: no RULES prefix matches (classify it)")
            continue
        if group.startswith("skip:"):
            continue
        unknown = [p for p in path_params(operation) if p not in FOREIGN]
        if unknown:
            problems.append(f"{method} {path}: no foreign id for {unknown} (FOREIGN, or UNPARAMETRISED)")
        elif not callers_for(method, path, group, path_params(operation)):
            problems.append(f"{method} {path}: no caller to refuse (extend callers_for, or UNPARAMETRISED)")
    existing = {(m, p) for m, p, _ in operations(app)}
    for table_name, entries in (("UNPARAMETRISED", set(UNPARAMETRISED)), ("BODIES", set(BODIES))):
        problems += [f"{table_name} lists a route that no longer exists: {e}" for e in entries - existing]
    problems += [f"MANAGER_ONLY lists a route that no longer exists: {e}" for e in MANAGER_ONLY - existing]
    problems += [
        f"ALLOWED lists a route that no longer exists: {e}" for e in ALLOWED if e[:2] not in existing
    ]
    assert not problems, "\n".join(problems)


async def _signed_in(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    return account.headers


async def _billing_of(client: httpx.AsyncClient, vendor: Account, admin: dict[str, str]) -> dict[str, str]:
    """A's billing objects: a default plan, a card and a live (sandbox) subscription."""
    plan = await client.post(
        "/api/admin/v1/billing/plans",
        json={
            "id": "matrix_v1",
            "name": "Matrix",
            "status": "active",
            "provider_plan_id": "plan-var-matrix",
            "interval": "EVERY_30_DAYS",
            "price_amount_cents": 4999,
            "currency_code": "USD",
            "is_default": True,
        },
        headers=admin,
    )
    assert plan.status_code == 201, plan.text
    card = await client.post(
        "/api/v1/vendor/payment-methods/cc",
        json={"source_id": "cnon:matrix-card"},
        headers={**vendor.headers, **idem()},
    )
    assert card.status_code == 201, card.text
    subscription = await client.post(
        "/api/v1/vendor/subscriptions", json={}, headers={**vendor.headers, **idem()}
    )
    assert subscription.status_code == 201, subscription.text
    return {
        "plan": plan.json()["data"]["id"],
        "payment_method": card.json()["data"]["id"],
        "subscription": subscription.json()["data"]["id"],
    }


async def build_world(client: httpx.AsyncClient, db: Database, settings: Settings) -> World:
    """Store A (a vendor and a buyer with an order, media, a license, a cart, a notice, an invitation,
    a staff member), the owners of stores B, an admin, an agent and a signed-in user without a store."""
    world = World()
    placed = await place(client, db)
    a_buyer, a_vendor = placed.buyer, placed.vendors[0]
    assert a_vendor.store_id is not None
    order = placed.order
    # A's buyer reviews A's vendor first: the license submitted below takes the vendor's KYC back to pending.
    async with db.transaction() as session:  # setup only: the order was delivered, so A may review
        await session.execute(
            text("UPDATE vendor_orders SET status = 'delivered' WHERE id = :id"), {"id": order["order_id"]}
        )
    review = await client.post(
        "/api/v1/reviews",
        json={"vendor_store_id": str(a_vendor.store_id), "rating": 5},
        headers={**a_buyer.headers, **idem()},
    )
    assert review.status_code == 201, review.text
    media = await uploaded(client, a_vendor, kind="other", mime="application/pdf", name="a.pdf")
    license_ = await submit_license(client, a_vendor)
    cart = await quote(client, a_buyer, line(placed.products[0][0], 1))
    async with db.transaction() as session:
        notice = await session.scalar(
            text(
                "INSERT INTO notifications (store_id, type, title, message) "
                "VALUES (:s, 'order_alert', 'For A', 'only') RETURNING id"
            ),
            {"s": a_vendor.store_id},
        )
    staff_user = await register_buyer(client)
    await invite(client, a_vendor, email=staff_user.email, role="staff")
    staff = await login(client, staff_user.email, staff_user.password)
    await accept_invitations(client, staff)
    staff = await switch_store(client, staff, a_vendor.store_id)
    pending = await invite(client, a_vendor)  # a new email: its invitation stays pending
    storeless = await login(client, pending["membership"]["email"], pending["temporary_password"])
    changed = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": pending["temporary_password"], "new_password": "storeless but signed in"},
        headers=storeless.headers,
    )
    assert changed.status_code == 200, changed.text
    b_vendor, b_buyer = await register_vendor(client), await register_buyer(client)
    assert b_vendor.store_id is not None
    assert b_buyer.store_id is not None
    await make_vendor_visible(db, b_vendor.store_id)
    await set_store_kyc(db, b_buyer.store_id, "verified")  # refused by tenancy, not by KYC
    admin, agent = await create_admin(db, settings), await create_agent(db, settings)
    admin_headers = auth_headers(await login_token(client, admin.email, admin.password, admin=True))
    billing = await _billing_of(client, a_vendor, admin_headers)
    ad = await client.post(
        "/api/v1/vendor/ads",
        json={
            "status": "draft",
            "placement": "store",
            "target_type": "store",
            "target_id": str(a_vendor.store_id),
            "bid_cents": 10,
            "daily_budget_cents": 1000,
            "creatives": [{"destination_url": "https://example.com/a"}],
        },
        headers={**a_vendor.headers, **idem()},
    )
    assert ad.status_code == 201, ad.text
    world.ids = {
        "order": order["order_id"],
        "line_item": order["items"][0]["line_item_id"],
        "product": placed.products[0][0]["id"],
        "media": str(media.media_id),
        "license": license_["id"],
        "checkout_group": placed.result["checkout_group_id"],
        "cart": cart["id"],
        "notification": str(notice),
        "invitation": pending["membership"]["membership_id"],
        "a_staff_user": str(staff_user.user_id),
        "a_vendor_store": str(a_vendor.store_id),
        "a_buyer_store": str(a_buyer.store_id),
        "ad": ad.json()["data"]["id"],
        "review": review.json()["data"]["id"],
        **billing,
    }
    world.callers = {
        "a_vendor": a_vendor.headers,
        "a_buyer": a_buyer.headers,
        "a_staff": staff.headers,
        "b_vendor": b_vendor.headers,
        "b_buyer": b_buyer.headers,
        "storeless": auth_headers(changed.json()["data"]["access_token"]),
        "admin": admin_headers,
        "agent": auth_headers(await login_token(client, agent.email, agent.password)),
    }
    return world


async def test_no_route_answers_2xx_to_a_foreign_id_or_a_wrong_role(
    app: FastAPI, client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    world = await build_world(client, db, settings)
    leaks: list[str] = []
    calls = 0
    for method, path, operation in operations(app):
        group = group_of(path)
        params = path_params(operation)
        if group is None or group.startswith("skip:") or (method, path) in UNPARAMETRISED:
            continue
        if any(p not in FOREIGN for p in params):
            continue  # reported by test_every_route_is_covered
        concrete = path.format(**{p: world.ids[FOREIGN[p]] for p in params})
        make_body = BODIES.get((method, path))
        body = make_body(world.ids) if make_body else ({} if method in ("POST", "PUT", "PATCH") else None)
        for caller in callers_for(method, path, group, params):
            response = await client.request(
                method, concrete, json=body, headers={**world.callers[caller], **idem()}
            )
            calls += 1
            if 200 <= response.status_code < 300:
                leaks.append(f"{caller}: {method} {path} -> {response.status_code} {response.text[:200]}")
    assert not leaks, "\n".join(leaks)
    assert calls > 150  # the matrix really ran (about 90 routes, most with several callers)


@pytest.mark.parametrize(("caller", "expected"), [("a_vendor", 200), ("b_vendor", 404)])
async def test_the_matrix_ids_are_real(
    client: httpx.AsyncClient, db: Database, settings: Settings, caller: str, expected: int
) -> None:
    """A positive control: A's own owner reads the object the matrix uses; B gets 404 (not 403)."""
    world = await build_world(client, db, settings)
    for path in (
        f"/api/v1/orders/{world.ids['order']}",
        f"/api/v1/media/{world.ids['media']}",
        f"/api/v1/licenses/{world.ids['license']}",
    ):
        response = await client.get(path, headers=world.callers[caller])
        assert response.status_code == expected, (caller, path, response.text)
