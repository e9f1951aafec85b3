"""The append-only ledger and admin payouts (commerce.md §2 ledger_events, §10)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.db import audits, events, execute, ledger
from tests.fixtures.orders import (
    Agent,
    Placed,
    agent_post,
    delivered,
    intent_row,
    new_admin,
    new_agent,
    ok,
    order_row,
    post,
    snapshot,
)


async def collected(client: httpx.AsyncClient, db: Database, agent: Agent) -> Placed:
    """A delivered order whose cash was collected: awaiting payout."""
    placed = await delivered(client, db, agent)
    await ok(await agent_post(client, agent, placed.order_id, "cash-collected"))
    return placed


async def test_ledger_rows_can_never_change(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await collected(client, db, agent)
    [entry] = await ledger(db)
    for statement in (
        "UPDATE ledger_events SET amount_cents = 0 WHERE id = :id",
        "DELETE FROM ledger_events WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="ledger_events is append-only"):
            await execute(db, statement, id=entry["id"])
    with pytest.raises(IntegrityError, match="uq_ledger_events_order_id_type"):
        await execute(
            db,
            "INSERT INTO ledger_events "
            "(order_id, buyer_store_id, vendor_store_id, actor_user_id, type, amount_cents) "
            "SELECT order_id, buyer_store_id, vendor_store_id, actor_user_id, type, 1 "
            "FROM ledger_events WHERE id = :id",
            id=entry["id"],
        )
    assert await ledger(db) == [entry]
    assert entry["order_id"] == uuid.UUID(placed.order_id)


async def test_payout_queue_is_oldest_delivery_first(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await new_admin(client, db, settings)
    agent = await new_agent(client, db, settings)
    first, second, third = [await collected(client, db, agent) for _ in range(3)]
    unsettled = await delivered(client, db, agent)
    await execute(
        db,
        "UPDATE vendor_orders SET delivered_at = now() - make_interval(hours => :h) WHERE id = :id",
        h=5,
        id=uuid.UUID(second.order_id),
    )
    page = await ok(await client.get("/api/admin/v1/orders/payouts", params={"limit": 2}, headers=admin))
    assert [i["order_id"] for i in page["items"]] == [second.order_id, first.order_id]
    item = page["items"][0]
    assert item["amount_cents"] == second.order["total_cents"]
    assert item["vendor_store_id"] == str(second.vendors[0].store_id)
    assert item["order_number"] == second.order["order_number"]
    rest = await ok(
        await client.get(
            "/api/admin/v1/orders/payouts", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin
        )
    )
    assert [i["order_id"] for i in rest["items"]] == [third.order_id]
    assert rest["next_cursor"] is None
    assert unsettled.order_id not in {i["order_id"] for i in page["items"] + rest["items"]}
    bad = await client.get("/api/admin/v1/orders/payouts", params={"cursor": "nope"}, headers=admin)
    assert bad.status_code == 400
    assert (await client.get("/api/admin/v1/orders/payouts", headers=agent.headers)).status_code == 403


async def test_payout_detail(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    admin = await new_admin(client, db, settings)
    agent = await new_agent(client, db, settings)
    waiting = await collected(client, db, agent)
    unsettled = await delivered(client, db, agent)
    detail = await ok(await client.get(f"/api/admin/v1/orders/payouts/{waiting.order_id}", headers=admin))
    assert detail["order"]["id"] == waiting.order_id
    assert detail["payment_intent"]["status"] == "settled"
    assert detail["active_assignment"]["agent_user_id"] == str(agent.id)
    refused = await client.get(f"/api/admin/v1/orders/payouts/{unsettled.order_id}", headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {
        "status": "delivered",
        "payment_status": "unpaid",
    }
    assert (
        await client.get(f"/api/admin/v1/orders/payouts/{uuid.uuid4()}", headers=admin)
    ).status_code == 404
    assert (await client.get("/api/admin/v1/orders/payouts/not-an-id", headers=admin)).status_code == 400


async def test_confirm_payout_closes_the_order_with_one_ledger_row(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    admin_user = await new_admin(client, db, settings)
    agent = await new_agent(client, db, settings)
    placed = await collected(client, db, agent)
    total = placed.order["total_cents"]
    path = f"/api/admin/v1/orders/{placed.order_id}/confirm-payout"
    result = await ok(await post(client, path, admin_user))
    assert (result["status"], result["payment_status"], result["balance_due_cents"]) == ("closed", "paid", 0)
    order = await order_row(db, placed.order_id)
    intent = await intent_row(db, placed.order_id)
    assert order["closed_at"] is not None
    assert intent is not None
    assert intent["vendor_paid_at"] is not None
    payout = [e for e in await ledger(db) if e["type"] == "vendor_payout"]
    assert len(payout) == 1
    [audit] = await audits(db, "payout.confirmed")
    assert audit["actor_role"] == "admin"
    assert payout[0]["actor_user_id"] == audit["actor_user_id"]
    assert (payout[0]["amount_cents"], payout[0]["vendor_store_id"]) == (total, placed.vendors[0].store_id)
    assert audit["payload"] == {"payment_intent_id": str(intent["id"]), "amount_cents": total}
    [paid] = await events(db, "order_paid")
    assert (paid["order_id"], paid["amount_cents"], paid["payment_intent_id"]) == (
        placed.order_id,
        total,
        str(intent["id"]),
    )

    before = await snapshot(db, placed.order_id)
    again = await post(client, path, admin_user)
    assert again.status_code == 200
    assert again.json()["data"]["status"] == "closed"
    assert await snapshot(db, placed.order_id) == before


async def test_confirm_payout_errors(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    admin = await new_admin(client, db, settings)
    agent = await new_agent(client, db, settings)
    placed = await delivered(client, db, agent)
    path = f"/api/admin/v1/orders/{placed.order_id}/confirm-payout"
    before = await snapshot(db, placed.order_id)
    unsettled = await post(client, path, admin)
    assert unsettled.status_code == 422
    assert unsettled.json()["error"]["code"] == "STATE_CONFLICT"
    assert (
        await post(client, f"/api/admin/v1/orders/{uuid.uuid4()}/confirm-payout", admin)
    ).status_code == 404
    assert (await post(client, path, agent.headers)).status_code == 403
    assert (await post(client, path, placed.buyer.headers)).status_code == 403
    assert (await client.post(path, headers=admin)).status_code == 400  # Idempotency-Key required
    assert await snapshot(db, placed.order_id) == before
    await execute(db, "DELETE FROM payment_intents WHERE order_id = :id", id=uuid.UUID(placed.order_id))
    assert (await post(client, path, admin)).status_code == 409
