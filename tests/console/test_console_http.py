"""The console over HTTP: sign-in, cookie, CSRF, refusals, idle expiry, sign-out, audit rows, pages."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from packfinderz.auth.sessions import session_key
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.apps import serve
from tests.fixtures.compliance import submit_license
from tests.fixtures.console import console_sign_in, csrf_of, dead_letter
from tests.fixtures.db import audits, execute, rows, scalar
from tests.fixtures.factories import auth_headers, create_admin, idem, login_token, register_vendor
from tests.fixtures.orders import new_agent, ready_order


@pytest.fixture
async def admin(db: Database, settings: Settings) -> tuple[str, str, uuid.UUID]:
    user = await create_admin(db, settings)
    return user.email, user.password, user.user_id


async def test_sign_in_opens_a_session_cookie_and_writes_the_api_audit_rows(
    client: httpx.AsyncClient, db: Database, admin: tuple[str, str, uuid.UUID]
) -> None:
    email, password, user_id = admin
    response = await console_sign_in(client, email, password)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pf_console="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "path=/console" in cookie.lower()
    assert "secure" not in attributes, "plain-http test env: not Secure (prod is)"
    [row] = await audits(db, "auth.login_succeeded")
    assert (row["actor_user_id"], row["actor_role"], row["payload"]) == (
        user_id,
        "admin",
        {"via": "admin_login"},
    )

    page = await client.get("/console")
    assert page.status_code == 200
    assert "<h1>Dashboard</h1>" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


async def test_the_wrong_password_and_a_non_admin_are_refused_like_the_api(
    client: httpx.AsyncClient, db: Database, admin: tuple[str, str, uuid.UUID]
) -> None:
    email, _, _ = admin
    wrong = await console_sign_in(client, email, "not-the-password")
    assert wrong.status_code == 401
    assert "Invalid credentials." in wrong.text
    vendor = await register_vendor(client)
    refused = await console_sign_in(client, vendor.email, vendor.password)
    assert refused.status_code == 401
    assert not any(c.startswith("pf_console=") for c in refused.headers.get_list("set-cookie"))
    reasons = [(r["payload"]["via"], r["payload"]["reason"]) for r in await audits(db, "auth.login_failed")]
    assert reasons == [("admin_login", "bad_password"), ("admin_login", "not_admin")]
    assert (await client.get("/console/stores")).status_code == 303


async def test_a_session_whose_user_is_no_longer_an_admin_gets_403(
    client: httpx.AsyncClient, db: Database, admin: tuple[str, str, uuid.UUID]
) -> None:
    email, password, user_id = admin
    assert (await console_sign_in(client, email, password)).status_code == 303
    await execute(db, "UPDATE users SET system_role = 'agent' WHERE id = :id", id=user_id)
    page = await client.get("/console/licenses")
    assert page.status_code == 403
    assert "for PackFinderz administrators" in page.text


async def test_signed_out_visitors_are_sent_to_sign_in_and_their_posts_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    page = await client.get("/console/audit?action=license.*")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?next=%2Fconsole%2Faudit%3Faction%3Dlicense.%2A"
    polled = await client.get("/console/agents/rows", headers={"HX-Request": "true"})
    assert (polled.status_code, polled.headers["hx-redirect"]) == (
        401,
        "/console/sign-in?next=%2Fconsole%2Fagents%2Frows",
    )
    event_id = await dead_letter(db)
    posted = await client.post("/console/events/replay", data={"event_id": str(event_id), "csrf_token": "x"})
    assert posted.status_code == 401
    assert await scalar(db, "SELECT failed_at IS NOT NULL FROM outbox_events WHERE id = :id", id=event_id)


async def test_forms_without_the_csrf_token_change_nothing(
    client: httpx.AsyncClient, db: Database, admin: tuple[str, str, uuid.UUID]
) -> None:
    vendor = await register_vendor(client)
    license_ = await submit_license(client, vendor)
    email, password, _ = admin
    form = await client.get("/console/sign-in")
    no_token = await client.post("/console/sign-in", data={"email": email, "password": password})
    assert no_token.status_code == 403
    assert "security token" in no_token.text
    assert await audits(db, "auth.login_succeeded") == []
    assert (
        await client.post(
            "/console/sign-in", data={"email": email, "password": password, "csrf_token": csrf_of(form.text)}
        )
    ).status_code == 303

    decision = f"/console/licenses/{license_['id']}/decision"
    for data in ({"decision": "verified"}, {"decision": "verified", "csrf_token": "forged"}):
        refused = await client.post(decision, data=data)
        assert refused.status_code == 403
    assert (
        await scalar(db, "SELECT status FROM licenses WHERE id = :id", id=uuid.UUID(license_["id"]))
        == "pending"
    )
    assert await audits(db, "license.verified") == []

    token = csrf_of((await client.get("/console/licenses")).text)
    assert (
        await client.post(decision, data={"decision": "verified", "csrf_token": token})
    ).status_code == 303
    assert (
        await scalar(db, "SELECT status FROM licenses WHERE id = :id", id=uuid.UUID(license_["id"]))
        == "verified"
    )
    [audit] = await audits(db, "license.verified")
    assert (audit["actor_role"], audit["target_id"]) == ("admin", uuid.UUID(license_["id"]))


async def live_sessions(redis: Redis, user_id: uuid.UUID) -> set[str]:
    members = [str(jti) for jti in await redis.smembers(f"pf:session:user:{user_id}")]
    return {jti for jti in members if await redis.exists(session_key(jti))}


@pytest.fixture
async def quick_idle(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app_settings.model_copy(update={"console_idle_timeout": 1.0})) as http:
        yield http


async def test_an_idle_session_expires_and_sign_out_ends_the_api_session(
    quick_idle: httpx.AsyncClient, redis: Redis, admin: tuple[str, str, uuid.UUID]
) -> None:
    email, password, user_id = admin
    assert (await console_sign_in(quick_idle, email, password)).status_code == 303
    assert (await quick_idle.get("/console/payouts")).status_code == 200
    await asyncio.sleep(1.5)  # past the 1 s idle timeout
    assert (await quick_idle.get("/console/payouts")).status_code == 303

    assert (await console_sign_in(quick_idle, email, password)).status_code == 303
    page = await quick_idle.get("/console/payouts")
    before = await live_sessions(redis, user_id)
    out = await quick_idle.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert (out.status_code, out.headers["location"]) == (303, "/console/sign-in")
    assert len(before - await live_sessions(redis, user_id)) == 1, (
        "the API session of this sign-in is revoked"
    )
    assert (await quick_idle.get("/console/payouts")).status_code == 303


async def test_sign_in_shares_the_api_login_rate_limit(
    app_settings: Settings, admin: tuple[str, str, uuid.UUID]
) -> None:
    limited = app_settings.model_copy(
        update={"auth_rate_limit_login_window": 60.0, "auth_rate_limit_login_email_limit": 2}
    )
    email, password, _ = admin
    async with serve(limited) as http:
        assert (
            await http.post("/api/admin/v1/auth/login", json={"email": email, "password": "nope-nope"})
        ).status_code == 401
        assert (await console_sign_in(http, email, "nope-nope")).status_code == 401
        third = await console_sign_in(http, email, password)
        assert third.status_code == 429
        assert "pf_console=" not in third.headers.get("set-cookie", "")


async def test_replay_and_audit_pages(
    client: httpx.AsyncClient, db: Database, admin: tuple[str, str, uuid.UUID]
) -> None:
    email, password, user_id = admin
    await console_sign_in(client, email, password)
    event_id = await dead_letter(db)
    page = await client.get("/console/events")
    assert "storage said 503" in page.text
    replayed = await client.post(
        "/console/events/replay", data={"event_id": str(event_id), "csrf_token": csrf_of(page.text)}
    )
    assert replayed.status_code == 303
    [row] = await rows(db, "SELECT failed_at, attempt_count FROM outbox_events WHERE id = :id", id=event_id)
    assert (row["failed_at"], row["attempt_count"]) == (None, 0)
    [audit] = await audits(db, "outbox.replayed")
    assert (audit["actor_user_id"], audit["target_id"], audit["payload"]["replayed"]) == (
        user_id,
        event_id,
        [str(event_id)],
    )
    assert "Replayed 1 event(s)." in (await client.get("/console/events")).text

    found = await client.get("/console/audit", params={"actor": email, "action": "outbox.*"})
    assert found.status_code == 200
    assert found.text.count("<td>outbox.replayed</td>") == 1
    assert "auth.login_succeeded" not in found.text
    bad = await client.get("/console/audit", params={"action": "DROP TABLE"})
    assert "must be an action" in bad.text


async def insert_marketplace_event(
    db: Database, event_type: str, vendor: uuid.UUID, order: uuid.UUID, gross: int
) -> None:
    await execute(
        db,
        "INSERT INTO analytics.marketplace_events (event_id, event_type, occurred_at, order_id, "
        "buyer_store_id, vendor_store_id, gross_revenue_cents, net_revenue_cents, items) "
        "VALUES (gen_random_uuid(), :t, now() - interval '1 day', :o, :b, :v, :g, :g, CAST(:items AS jsonb))",
        t=event_type,
        o=order,
        b=uuid.uuid4(),
        v=vendor,
        g=gross,
        items=json.dumps([{"category": "flower", "line_total_cents": gross}]),
    )


async def test_the_dashboard_shows_marketplace_wide_figures_and_top_vendors(
    client: httpx.AsyncClient, db: Database, admin: tuple[str, str, uuid.UUID]
) -> None:
    big = await register_vendor(client, company_name="Big Vendor")
    small = await register_vendor(client, company_name="Small Vendor")
    assert big.store_id is not None
    assert small.store_id is not None
    for vendor, gross in ((big.store_id, 1000), (big.store_id, 3000), (small.store_id, 500)):
        order = uuid.uuid4()
        await insert_marketplace_event(db, "order_created", vendor, order, gross)
        await insert_marketplace_event(db, "cash_collected", vendor, order, gross)
    email, password, _ = admin
    await console_sign_in(client, email, password)
    page = await client.get("/console", params={"range": "7d"})
    assert page.status_code == 200
    assert '<strong id="kpi-orders">3</strong>' in page.text
    assert '<strong id="kpi-revenue">$45.00</strong>' in page.text
    vendors = page.text[page.text.index("<h3>Top vendors</h3>") : page.text.index("<h3>Top categories</h3>")]
    assert vendors.index("Big Vendor") < vendors.index("Small Vendor")
    assert "<td>2</td><td>$40.00</td>" in vendors
    assert "<td>flower</td><td>$45.00</td>" in page.text
    assert (await client.get("/console", params={"range": "1y"})).status_code == 400


async def test_store_page_subscription_override_suspension_and_agent_assignment(
    client: httpx.AsyncClient, db: Database, settings: Settings, admin: tuple[str, str, uuid.UUID]
) -> None:
    email, password, user_id = admin
    admin_api = auth_headers(await login_token(client, email, password, admin=True))
    plan = {
        "id": "starter_v1",
        "name": "Starter",
        "status": "active",
        "provider_plan_id": "plan-var-starter",
        "interval": "EVERY_30_DAYS",
        "price_amount_cents": 4999,
        "currency_code": "USD",
        "is_default": True,
        "features": [],
        "ui": {},
    }
    assert (await client.post("/api/admin/v1/billing/plans", json=plan, headers=admin_api)).status_code == 201
    vendor = await register_vendor(client, company_name="Subscribed Vendor")
    card = await client.post(
        "/api/v1/vendor/payment-methods/cc",
        json={"source_id": "cnon:card-ok"},
        headers={**vendor.headers, **idem()},
    )
    assert card.status_code == 201, card.text
    subscribed = await client.post(
        "/api/v1/vendor/subscriptions", json={}, headers={**vendor.headers, **idem()}
    )
    assert subscribed.status_code in (200, 201), subscribed.text

    await console_sign_in(client, email, password)
    page = await client.get(f"/console/stores/{vendor.store_id}")
    assert page.status_code == 200
    assert "Plan <strong>starter_v1</strong> · active" in page.text

    assert (await client.get(f"/console/stores/{uuid.uuid4()}")).status_code == 404
    assert (await client.get(f"/console/orders/{uuid.uuid4()}")).status_code == 404
    token = csrf_of(page.text)
    override = await client.post(
        f"/console/stores/{vendor.store_id}/subscription",
        data={"value": "inactive", "reason": "Chargeback review", "csrf_token": token},
    )
    assert override.status_code == 303
    store = (await client.get(f"/api/admin/v1/stores/{vendor.store_id}", headers=admin_api)).json()["data"]
    assert (store["subscription_active"], store["subscription_override"]["reason"]) == (
        False,
        "Chargeback review",
    )
    no_reason = await client.post(
        f"/console/stores/{vendor.store_id}/suspension",
        data={"action": "suspend", "reason": " ", "csrf_token": token},
    )
    assert no_reason.status_code == 303
    shown = await client.get(f"/console/stores/{vendor.store_id}")
    assert 'class="flash error"' in shown.text
    assert (await client.get(f"/api/admin/v1/stores/{vendor.store_id}", headers=admin_api)).json()["data"][
        "kyc_status"
    ] != "suspended"

    for action in ("suspend", "reinstate"):
        done = await client.post(
            f"/console/stores/{vendor.store_id}/suspension",
            data={"action": action, "reason": f"{action} test", "csrf_token": token},
        )
        assert done.status_code == 303
    changes = [r["payload"]["changes"] for r in await audits(db, "store.admin_override")]
    assert [c.get("kyc_status", {}).get("to") for c in changes] == [None, "suspended", "pending_verification"]
    assert all(r["actor_user_id"] == user_id for r in await audits(db, "store.admin_override"))

    agent = await new_agent(client, db, settings)
    placed = await ready_order(client, db)
    queue = await client.get("/console/orders")
    assert f"/console/orders/{placed.order_id}" in queue.text
    assigned = await client.post(
        f"/console/orders/{placed.order_id}/assign",
        data={"agent_user_id": str(agent.id), "back": "queue", "csrf_token": token},
    )
    assert (assigned.status_code, assigned.headers["location"]) == (303, "/console/orders")
    detail = (
        await client.get(f"/api/v1/orders/{placed.order_id}", headers=placed.vendors[0].headers)
    ).json()["data"]
    assert (detail["active_assignment"]["agent_user_id"], detail["active_assignment"]["source"]) == (
        str(agent.id),
        "admin",
    )
    timeline = await client.get(f"/console/orders/{placed.order_id}")
    assert f"{agent.user.email} <strong>(active)</strong>" in timeline.text
    assert "<td>admin</td>" in timeline.text
