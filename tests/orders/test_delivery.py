"""Agents: heartbeats, the queue, claims, pickup, delivery, cash collection, admin views and overrides,
and the dispatch consumer."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from packfinderz.config import Settings
from packfinderz.delivery.consumers import handle
from packfinderz.delivery.service import auto_assign
from packfinderz.events.consumer import load_consumers
from packfinderz.kit import embedded
from packfinderz.kit.db import Database
from tests.fixtures.apps import serve
from tests.fixtures.db import audits, events, execute, ledger, rows, stock
from tests.fixtures.factories import auth_headers, login_token
from tests.fixtures.logs import LogCapture
from tests.fixtures.orders import (
    agent_post,
    beat,
    delivered,
    in_transit,
    intent_row,
    new_admin,
    new_agent,
    ok,
    order_row,
    place,
    post,
    ready_order,
    snapshot,
)
from tests.fixtures.processes import free_port


async def test_heartbeat_is_kept_120_seconds_and_logged(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings, logs: LogCapture
) -> None:
    agent = await new_agent(client, db, settings)
    data = await ok(await beat(client, agent, "busy", lat=35.5, lng=-97.5))
    assert (data["status"], data["expires_in_s"]) == ("busy", 120)
    key = f"pf:heartbeat:agent:{agent.id}"
    raw = await redis.get(key)
    assert raw is not None
    stored = json.loads(raw)
    assert (stored["status"], stored["lat"], stored["lng"]) == ("busy", 35.5, -97.5)
    assert 0 < await redis.ttl(key) <= 120
    [line] = logs.events("agent.heartbeat")
    assert (line["user_id"], line["status"], line["has_location"]) == (str(agent.id), "busy", True)
    assert "lat" not in line


async def test_heartbeat_validation_and_access(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    half = await beat(client, agent, lat=35.5)
    assert half.status_code == 400
    assert half.json()["error"]["details"] == {"lng": "lat and lng must be sent together"}
    assert (await beat(client, agent, "asleep")).status_code == 400
    assert (await beat(client, agent, lat=91, lng=0)).status_code == 400
    assert (await beat(client, agent, speed=3)).status_code == 400
    admin = await new_admin(client, db, settings)
    denied = await client.post("/api/v1/agent/heartbeat", json={"status": "available"}, headers=admin)
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "role required"
    placed = await place(client, db)
    assert (
        await client.post(
            "/api/v1/agent/heartbeat", json={"status": "available"}, headers=placed.buyer.headers
        )
    ).status_code == 403
    assert (await client.post("/api/v1/agent/heartbeat", json={"status": "available"})).status_code == 401


async def test_heartbeat_answers_503_when_redis_refuses_writes(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    # maxmemory is server-wide: change it only on a redis-server this test owns, never the shared one.
    owned = embedded.start_redis(tmp_path / "redis", persist=False)
    try:
        own = settings.model_copy(
            update={"redis_url": SecretStr(owned.url(0)), "storage_local_dir": str(tmp_path / "storage")}
        )
        async with serve(own) as client, Redis.from_url(owned.url(0)) as redis:
            agent = await new_agent(client, db, own)
            await redis.config_set("maxmemory", 1)  # noeviction: every write fails, reads (sessions) work
            try:
                response = await beat(client, agent)
            finally:
                await redis.config_set("maxmemory", 0)
    finally:
        owned.stop()
    assert response.status_code == 503
    assert response.json()["error"]["details"] == {"dependency": "redis"}


async def test_queue_claim_and_my_orders(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    first = await ready_order(client, db)
    second = await ready_order(client, db)
    pending = await place(client, db)
    one, two = await new_agent(client, db, settings), await new_agent(client, db, settings)

    queue = await ok(await client.get("/api/v1/agent/orders/queue", headers=one.headers))
    assert [o["id"] for o in queue["items"]] == [second.order_id, first.order_id]
    item = queue["items"][0]
    assert item["buyer"]["id"] == str(second.buyer.store_id)
    assert item["vendor"]["address"]["city"]
    assert item["buyer"]["address"]["line1"]
    assert pending.order_id not in {o["id"] for o in queue["items"]}

    claimed = await ok(await agent_post(client, one, first.order_id, "claim"))
    assert claimed["status"] == "ready_for_dispatch"
    assignment = claimed["assignment"]
    assert (assignment["source"], assignment["agent_user_id"], assignment["assigned_by_user_id"]) == (
        "claim",
        str(one.id),
        str(one.id),
    )
    assert assignment["agent"]["first_name"] == "Agent"
    before = await snapshot(db, first.order_id)
    lost = await agent_post(client, two, first.order_id, "claim")
    assert lost.status_code == 409
    assert lost.json()["error"]["message"] == "order already assigned"
    again = await agent_post(client, one, first.order_id, "claim")
    assert again.status_code == 200
    assert again.json()["data"]["assignment"]["id"] == assignment["id"]
    assert await snapshot(db, first.order_id) == before
    [audit] = await audits(db, "order.claimed")
    assert (audit["actor_user_id"], audit["actor_role"], audit["payload"]) == (
        one.id,
        "agent",
        {"agent_user_id": str(one.id)},
    )
    assert (await agent_post(client, one, uuid.uuid4(), "claim")).status_code == 404

    queue = await ok(await client.get("/api/v1/agent/orders/queue", headers=one.headers))
    assert [o["id"] for o in queue["items"]] == [second.order_id]
    mine = await ok(await client.get("/api/v1/agent/orders", headers=one.headers))
    assert [o["id"] for o in mine["items"]] == [first.order_id]
    assert (await ok(await client.get("/api/v1/agent/orders", headers=two.headers)))["items"] == []
    filtered = await ok(
        await client.get("/api/v1/agent/orders", params={"status": "in_transit"}, headers=one.headers)
    )
    assert filtered["items"] == []
    assert (
        await client.get("/api/v1/agent/orders", params={"status": "lost"}, headers=one.headers)
    ).status_code == 400

    # Detail: the holder and (while queued) anyone; not another agent's order.
    assert (
        await client.get(f"/api/v1/agent/orders/{first.order_id}", headers=one.headers)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/agent/orders/{second.order_id}", headers=two.headers)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/agent/orders/{first.order_id}", headers=two.headers)
    ).status_code == 403
    assert (
        await client.get(f"/api/v1/agent/orders/{pending.order_id}", headers=two.headers)
    ).status_code == 403
    assert (await client.get(f"/api/v1/agent/orders/{uuid.uuid4()}", headers=two.headers)).status_code == 404


async def test_pickup_and_delivery_consume_stock_once(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent, other = await new_agent(client, db, settings), await new_agent(client, db, settings)
    placed = await ready_order(client, db, (3, 2))
    first, second = placed.products[0]
    await ok(await agent_post(client, agent, placed.order_id, "claim"))
    assert (await agent_post(client, other, placed.order_id, "pickup")).status_code == 403
    picked = await ok(await agent_post(client, agent, placed.order_id, "pickup"))
    assert (picked["status"], picked["shipping_status"]) == ("in_transit", "in_transit")
    [assignment] = await rows(
        db, "SELECT * FROM order_assignments WHERE order_id = :id", id=uuid.UUID(placed.order_id)
    )
    assert assignment["pickup_time"] is not None
    assert await stock(db, first["id"]) == (97, 3)

    assert (await agent_post(client, other, placed.order_id, "deliver")).status_code == 403
    done = await ok(await agent_post(client, agent, placed.order_id, "deliver"))
    assert (done["status"], done["shipping_status"], done["balance_due_cents"]) == (
        "delivered",
        "delivered",
        placed.order["total_cents"],
    )
    assert await stock(db, first["id"]) == (97, 0)
    assert await stock(db, second["id"]) == (98, 0)
    order = await order_row(db, placed.order_id)
    assert order["delivered_at"] is not None
    [assignment] = await rows(
        db, "SELECT * FROM order_assignments WHERE order_id = :id", id=uuid.UUID(placed.order_id)
    )
    assert assignment["delivery_time"] is not None
    before = await snapshot(db, placed.order_id)
    assert (await agent_post(client, agent, placed.order_id, "deliver")).status_code == 200
    assert await snapshot(db, placed.order_id) == before
    assert [a["payload"] for a in await audits(db, "order.picked_up")] == [{"status": "in_transit"}]
    assert [a["payload"] for a in await audits(db, "order.delivered")] == [{"status": "delivered"}]


async def test_cash_collected_settles_once_with_one_ledger_row(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await delivered(client, db, agent)
    total = placed.order["total_cents"]
    assert (
        await agent_post(client, await new_agent(client, db, settings), placed.order_id, "cash-collected")
    ).status_code == 403
    result = await ok(
        await agent_post(client, agent, placed.order_id, "cash-collected", {"amount_cents": total})
    )
    assert result == {
        "order_id": placed.order_id,
        "status": "delivered",
        "payment_status": "settled",
        "fulfillment_status": "fulfilled",
        "shipping_status": "delivered",
        "balance_due_cents": 0,
    }
    intent = await intent_row(db, placed.order_id)
    assert intent is not None
    assert intent["cash_collected_at"] is not None
    [entry] = await ledger(db)
    assert (entry["type"], entry["amount_cents"], entry["actor_user_id"]) == (
        "cash_collected",
        total,
        agent.id,
    )
    assert (entry["buyer_store_id"], entry["vendor_store_id"]) == (
        placed.buyer.store_id,
        placed.vendors[0].store_id,
    )
    assert entry["metadata"] == {"payment_intent_id": str(intent["id"]), "supplied_cents": total}
    [event] = await events(db, "cash_collected")
    assert (event["order_id"], event["amount_cents"]) == (placed.order_id, total)
    [audit] = await audits(db, "order.cash_collected")
    assert audit["payload"] == {"amount_cents": total}
    [assignment] = await rows(
        db,
        "SELECT cash_pickup_time FROM order_assignments WHERE order_id = :id",
        id=uuid.UUID(placed.order_id),
    )
    assert assignment["cash_pickup_time"] is not None

    before = await snapshot(db, placed.order_id)
    assert (
        await agent_post(client, agent, placed.order_id, "cash-collected", {"amount_cents": 1})
    ).status_code == 200
    assert await snapshot(db, placed.order_id) == before


async def test_cash_can_be_collected_in_transit_without_counting(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await in_transit(client, db, agent)
    result = await ok(await agent_post(client, agent, placed.order_id, "cash-collected"))
    assert (result["status"], result["payment_status"]) == ("in_transit", "settled")
    assert len(await ledger(db)) == 1


async def test_a_cash_mismatch_is_committed_then_answered_422(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await delivered(client, db, agent)
    total = placed.order["total_cents"]
    response = await agent_post(
        client, agent, placed.order_id, "cash-collected", {"amount_cents": total - 100}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["details"]) == (
        "STATE_CONFLICT",
        {"expected_cents": total, "supplied_cents": total - 100},
    )
    intent = await intent_row(db, placed.order_id)
    assert intent is not None
    assert intent["status"] == "failed"
    assert intent["failure_reason"] == f"cash mismatch: expected {total} cents, got {total - 100}"
    assert (await order_row(db, placed.order_id))["status"] == "hold"
    [failed] = await events(db, "payment_failed")
    assert (failed["order_id"], failed["payment_intent_id"]) == (placed.order_id, str(intent["id"]))
    [audit] = await audits(db, "order.cash_mismatch")
    assert audit["payload"] == {"amount_cents": total, "expected_cents": total, "supplied_cents": total - 100}
    assert await ledger(db) == []

    before = await snapshot(db, placed.order_id)
    final = await agent_post(client, agent, placed.order_id, "cash-collected", {"amount_cents": total})
    assert final.status_code == 422
    assert final.json()["error"]["message"] == "payment already finalized"
    assert await snapshot(db, placed.order_id) == before


async def test_an_intent_that_drifted_from_the_total_is_a_mismatch(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await delivered(client, db, agent)
    await execute(
        db, "UPDATE payment_intents SET amount_cents = 5 WHERE order_id = :id", id=uuid.UUID(placed.order_id)
    )
    response = await agent_post(client, agent, placed.order_id, "cash-collected")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"expected_cents": placed.order["total_cents"]}


async def test_cash_needs_a_cash_intent(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    agent = await new_agent(client, db, settings)
    placed = await delivered(client, db, agent)
    await execute(
        db,
        "UPDATE payment_intents SET method = 'ach', status = 'pending' WHERE order_id = :id",
        id=uuid.UUID(placed.order_id),
    )
    not_cash = await agent_post(client, agent, placed.order_id, "cash-collected")
    assert not_cash.status_code == 422
    assert not_cash.json()["error"]["details"] == {"payment_method": "ach"}
    await execute(db, "DELETE FROM payment_intents WHERE order_id = :id", id=uuid.UUID(placed.order_id))
    missing = await agent_post(client, agent, placed.order_id, "cash-collected")
    assert missing.status_code == 409
    bad = await agent_post(client, agent, placed.order_id, "cash-collected", {"amount_cents": -1})
    assert bad.status_code == 400
    assert "amount_cents" in bad.json()["error"]["details"]


async def test_admin_lists_agents_with_presence(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await new_admin(client, db, settings)
    available, busy, silent = [await new_agent(client, db, settings) for _ in range(3)]
    await ok(await beat(client, available, lat=35.0, lng=-97.0))
    await ok(await beat(client, busy, "busy"))
    placed = await ready_order(client, db)
    await ok(await agent_post(client, busy, placed.order_id, "claim"))
    await execute(db, "UPDATE users SET is_active = false WHERE id = :id", id=silent.id)

    listed = await ok(await client.get("/api/admin/v1/agents", headers=admin))
    by_id = {item["user_id"]: item for item in listed["items"]}
    assert [item["user_id"] for item in listed["items"]] == [str(silent.id), str(busy.id), str(available.id)]
    assert by_id[str(available.id)]["presence"] == "available"
    assert by_id[str(available.id)]["last_heartbeat"]["lat"] == 35.0
    assert (by_id[str(busy.id)]["presence"], by_id[str(busy.id)]["active_assignments"]) == ("busy", 1)
    assert (by_id[str(silent.id)]["presence"], by_id[str(silent.id)]["last_heartbeat"]) == ("offline", None)
    assert by_id[str(silent.id)]["is_active"] is False
    assert by_id[str(available.id)]["email"] == available.user.email

    async def ids(**params: str) -> list[str]:
        data = await ok(await client.get("/api/admin/v1/agents", params=params, headers=admin))
        return [item["user_id"] for item in data["items"]]

    assert await ids(presence="available") == [str(available.id)]
    assert await ids(presence="offline") == [str(silent.id)]
    assert await ids(is_active="true") == [str(busy.id), str(available.id)]
    page = await ok(
        await client.get("/api/admin/v1/agents", params={"limit": 1, "presence": "busy"}, headers=admin)
    )
    assert [i["user_id"] for i in page["items"]] == [str(busy.id)]
    assert page["next_cursor"] is None
    page = await ok(await client.get("/api/admin/v1/agents", params={"limit": 2}, headers=admin))
    rest = await ok(
        await client.get(
            "/api/admin/v1/agents", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin
        )
    )
    assert [i["user_id"] for i in page["items"] + rest["items"]] == [
        str(silent.id),
        str(busy.id),
        str(available.id),
    ]
    assert (
        await client.get("/api/admin/v1/agents", params={"presence": "away"}, headers=admin)
    ).status_code == 400
    assert (await client.get("/api/admin/v1/agents", headers=available.headers)).status_code == 403


async def test_admin_assigns_and_replaces_agents(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await new_admin(client, db, settings)
    first, second = await new_agent(client, db, settings), await new_agent(client, db, settings)
    placed = await in_transit(client, db, first)
    path = f"/api/admin/v1/orders/{placed.order_id}/assign-agent"

    moved = await ok(await post(client, path, admin, {"agent_user_id": str(second.id)}))
    assert moved["order_id"] == placed.order_id
    assert (moved["assignment"]["agent_user_id"], moved["assignment"]["source"]) == (str(second.id), "admin")
    assignments = await rows(
        db,
        "SELECT agent_user_id, active FROM order_assignments WHERE order_id = :id ORDER BY assigned_at",
        id=uuid.UUID(placed.order_id),
    )
    assert [(a["agent_user_id"], a["active"]) for a in assignments] == [(first.id, False), (second.id, True)]
    [audit] = await audits(db, "order.agent_assigned")
    assert audit["payload"] == {"agent_user_id": str(second.id), "previous_agent_user_id": str(first.id)}
    assert audit["actor_role"] == "admin"
    # The new agent continues from in transit; the old one is out.
    assert (await agent_post(client, first, placed.order_id, "deliver")).status_code == 403
    assert (await ok(await agent_post(client, second, placed.order_id, "deliver")))["status"] == "delivered"

    before = await snapshot(db, placed.order_id)
    for body in (
        {"agent_user_id": str(uuid.uuid4())},
        {"agent_user_id": str(placed.buyer.user_id)},
        {"agent": "x"},
    ):
        bad = await post(client, path, admin, body)
        assert bad.status_code == 400, body
    await execute(db, "UPDATE users SET is_active = false WHERE id = :id", id=first.id)
    inactive = await post(client, path, admin, {"agent_user_id": str(first.id)})
    assert inactive.json()["error"]["details"] == {"agent_user_id": "must be an active agent"}
    missing = await post(
        client, f"/api/admin/v1/orders/{uuid.uuid4()}/assign-agent", admin, {"agent_user_id": str(second.id)}
    )
    assert missing.status_code == 404
    assert (await post(client, path, second.headers, {"agent_user_id": str(second.id)})).status_code == 403
    assert await snapshot(db, placed.order_id) == before


# --- the dispatch consumer ----------------------------------------------------------------------------


def test_dispatch_is_a_registered_consumer_of_ready_orders() -> None:
    consumer = load_consumers()["dispatch"]
    assert consumer.topics == ("orders",)
    assert consumer.event_types == frozenset({"order_ready_for_dispatch"})
    assert consumer.handler is handle


async def test_dispatch_picks_only_fresh_available_agents(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings, logs: LogCapture
) -> None:
    placed = await ready_order(client, db)
    busy, silent, available = [await new_agent(client, db, settings) for _ in range(3)]
    await ok(await beat(client, busy, "busy"))
    await execute(db, "UPDATE users SET is_active = false WHERE id = :id", id=silent.id)
    await ok(await beat(client, silent))  # an inactive agent is never a candidate

    async with db.transaction() as session:
        assert await auto_assign(session, redis, uuid.UUID(placed.order_id)) is None
    assert await rows(db, "SELECT 1 FROM order_assignments") == []
    assert [e["order_id"] for e in logs.events("dispatch.no_agent_available")] == [placed.order_id]

    await ok(await beat(client, available))
    async with db.transaction() as session:
        assert await auto_assign(session, redis, uuid.UUID(placed.order_id)) == available.id
    async with db.transaction() as session:  # a redelivered event changes nothing the second time
        assert await auto_assign(session, redis, uuid.UUID(placed.order_id)) is None
    [assignment] = await rows(db, "SELECT * FROM order_assignments")
    assert (assignment["agent_user_id"], assignment["source"], assignment["assigned_by_user_id"]) == (
        available.id,
        "auto",
        None,
    )
    [audit] = await audits(db, "order.auto_assigned")
    assert (audit["actor_role"], audit["actor_user_id"], audit["payload"]) == (
        "system",
        None,
        {"agent_user_id": str(available.id)},
    )
    [line] = logs.events("dispatch.assigned")
    assert (line["agent_user_id"], line["candidates"]) == (str(available.id), 1)


async def test_dispatch_leaves_claimed_and_moved_on_orders_alone(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings
) -> None:
    claimer, available = await new_agent(client, db, settings), await new_agent(client, db, settings)
    await ok(await beat(client, available))
    claimed = await ready_order(client, db)
    await ok(await agent_post(client, claimer, claimed.order_id, "claim"))
    pending = await place(client, db)
    for placed in (claimed, pending):
        before = await snapshot(db, placed.order_id)
        async with db.transaction() as session:
            assert await auto_assign(session, redis, uuid.UUID(placed.order_id)) is None
        assert await snapshot(db, placed.order_id) == before


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    """A real client for a port nobody listens on."""
    client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()


async def test_dispatch_retries_when_redis_is_unreachable(
    client: httpx.AsyncClient, db: Database, settings: Settings, dead_redis: Redis
) -> None:
    placed = await ready_order(client, db)
    await ok(await beat(client, await new_agent(client, db, settings)))
    with pytest.raises(RedisError):
        async with db.transaction() as session:
            await auto_assign(session, dead_redis, uuid.UUID(placed.order_id))
    assert await rows(db, "SELECT 1 FROM order_assignments") == []


async def test_agent_tokens_need_the_agent_role(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    placed = await ready_order(client, db)
    for headers in (placed.buyer.headers, placed.vendors[0].headers, await new_admin(client, db, settings)):
        assert (await client.get("/api/v1/agent/orders/queue", headers=headers)).status_code == 403
        assert (
            await post(client, f"/api/v1/agent/orders/{placed.order_id}/claim", headers)
        ).status_code == 403
    agent = await new_agent(client, db, settings)
    token = await login_token(client, agent.user.email, agent.user.password)
    assert (await client.get("/api/v1/agent/orders/queue", headers=auth_headers(token))).status_code == 200
