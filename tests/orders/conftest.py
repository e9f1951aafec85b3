"""Order test helpers: placed orders over HTTP, agents with heartbeats, admins, state snapshots, events.

Orders are always placed through the API (register → products → quote → checkout); states that only the
clock reaches (expired) are produced by moving `created_at` back and running the TTL job.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.events.consumer import ConsumerRunner, load_consumers
from packfinderz.events.registry import TOPICS
from packfinderz.events.relay import Relay
from packfinderz.kit.db import Database
from packfinderz.kit.transport import create_transport
from packfinderz.orders.jobs import run_ttl
from tests.catalog.conftest import create_product
from tests.checkout.conftest import checkout, line, market, quote
from tests.fixtures.events import eventually
from tests.fixtures.factories import (
    Account,
    SystemUser,
    admin_headers,
    auth_headers,
    create_agent,
    idem,
    login_token,
)

__all__ = ["create_product", "line", "quote"]


# --- reading the database ----------------------------------------------------------------------------


async def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        return [dict(r._mapping) for r in await session.execute(text(sql), params)]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar()


async def execute(db: Database, sql: str, **params: Any) -> None:
    async with db.transaction() as session:
        await session.execute(text(sql), params)


async def order_row(db: Database, order_id: Any) -> dict[str, Any]:
    [found] = await rows(db, "SELECT * FROM vendor_orders WHERE id = :id", id=uuid.UUID(str(order_id)))
    return found


async def intent_row(db: Database, order_id: Any) -> dict[str, Any] | None:
    found = await rows(db, "SELECT * FROM payment_intents WHERE order_id = :id", id=uuid.UUID(str(order_id)))
    return found[0] if found else None


async def stock(db: Database, product_id: Any) -> tuple[int, int]:
    """(available_qty, reserved_qty)."""
    [found] = await rows(
        db,
        "SELECT available_qty, reserved_qty FROM inventory_items WHERE product_id = :p",
        p=uuid.UUID(str(product_id)),
    )
    return found["available_qty"], found["reserved_qty"]


async def events(db: Database, event_type: str) -> list[dict[str, Any]]:
    """`data` of every outbox event of a type, oldest first."""
    found = await rows(
        db, "SELECT payload FROM outbox_events WHERE event_type = :t ORDER BY created_at, id", t=event_type
    )
    return [r["payload"]["data"] for r in found]


async def event_counts(db: Database) -> dict[str, int]:
    found = await rows(db, "SELECT event_type, count(*) AS n FROM outbox_events GROUP BY event_type")
    return {r["event_type"]: int(r["n"]) for r in found}


async def audits(db: Database, action: str) -> list[dict[str, Any]]:
    return await rows(
        db,
        "SELECT action, actor_user_id, actor_store_id, actor_role, target_id, payload FROM audit_logs "
        "WHERE action = :a ORDER BY created_at, id",
        a=action,
    )


async def ledger(db: Database) -> list[dict[str, Any]]:
    return await rows(db, "SELECT * FROM ledger_events ORDER BY created_at, id")


async def snapshot(db: Database, order_id: Any) -> dict[str, Any]:
    """Everything an order action could change: the order, its lines, intent, assignments, the stock
    of its products, and the ledger, outbox and audit row counts."""
    oid = uuid.UUID(str(order_id))
    found: dict[str, Any] = {}
    for name, sql in (
        ("order", "SELECT to_jsonb(o) AS j FROM vendor_orders o WHERE id = :id"),
        ("lines", "SELECT to_jsonb(l) AS j FROM order_line_items l WHERE order_id = :id ORDER BY position"),
        ("intent", "SELECT to_jsonb(p) AS j FROM payment_intents p WHERE order_id = :id"),
        ("assignments", "SELECT to_jsonb(a) AS j FROM order_assignments a WHERE order_id = :id ORDER BY id"),
        (
            "stock",
            "SELECT to_jsonb(i) AS j FROM inventory_items i WHERE product_id IN "
            "(SELECT product_id FROM order_line_items WHERE order_id = :id) ORDER BY product_id",
        ),
    ):
        found[name] = [r["j"] for r in await rows(db, sql, id=oid)]
    for table in ("ledger_events", "outbox_events", "audit_logs", "vendor_orders", "media"):
        found[f"{table}_count"] = await scalar(db, f"SELECT count(*) FROM {table}")
    return found


# --- placing orders ------------------------------------------------------------------------------------


@dataclass
class Placed:
    """One checkout: the buyer, the vendors and their products, and the vendor orders it created."""

    buyer: Account
    vendors: list[Account]
    products: list[list[dict[str, Any]]]
    result: dict[str, Any]
    orders: list[dict[str, Any]] = field(default_factory=list)

    def order_of(self, vendor: Account) -> dict[str, Any]:
        return next(o for o in self.orders if o["vendor_store_id"] == str(vendor.store_id))

    @property
    def order(self) -> dict[str, Any]:
        return self.orders[0]

    @property
    def order_id(self) -> str:
        return str(self.orders[0]["order_id"])


async def place(
    client: httpx.AsyncClient,
    db: Database,
    quantities: Sequence[Sequence[int]] = ((3, 2),),
    *,
    stock_qty: int = 100,
    price_cents: int = 1000,
) -> Placed:
    """A verified buyer checking out from one vendor per entry of `quantities` (one product per qty)."""
    m = await market(client, db)
    vendors = [m.vendor_a, m.vendor_b][: len(quantities)]
    products = []
    lines = []
    for vendor, qtys in zip(vendors, quantities, strict=True):
        made = []
        for index, qty in enumerate(qtys):
            product = await create_product(
                client,
                vendor,
                title=f"Product {index + 1}",
                price_cents=price_cents * (index + 1),
                inventory={"available_qty": stock_qty, "low_stock_threshold": 0},
            )
            made.append(product)
            lines.append(line(product, qty))
        products.append(made)
    cart = await quote(client, m.buyer, *lines)
    result = await checkout(client, m.buyer, cart["id"])
    return Placed(m.buyer, vendors, products, result, list(result["vendor_orders"]))


def line_ids(order: dict[str, Any]) -> list[str]:
    return [str(item["line_item_id"]) for item in order["items"]]


# --- HTTP shorthands ----------------------------------------------------------------------------------


async def post(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], body: Any = None, key: str | None = None
) -> httpx.Response:
    """POST with a fresh (or given) Idempotency-Key."""
    return await client.post(path, json=body, headers={**headers, **idem(key)})


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def decide(client: httpx.AsyncClient, vendor: Account, order_id: Any, decision: str) -> httpx.Response:
    return await post(
        client, f"/api/v1/vendor/orders/{order_id}/decision", vendor.headers, {"decision": decision}
    )


async def decide_line(  # noqa: PLR0917 - mirrors the request body
    client: httpx.AsyncClient,
    vendor: Account,
    order_id: Any,
    line_id: Any,
    decision: str,
    notes: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"line_item_id": str(line_id), "decision": decision}
    if notes is not None:
        body["notes"] = notes
    return await post(client, f"/api/v1/vendor/orders/{order_id}/line-items/decision", vendor.headers, body)


async def fulfil_all(client: httpx.AsyncClient, vendor: Account, order: dict[str, Any]) -> dict[str, Any]:
    """Fulfil every pending line; the last answer (ready for dispatch)."""
    data: dict[str, Any] = {}
    for item in order["items"]:
        if item["status"] == "pending":
            data = await ok(
                await decide_line(client, vendor, order["order_id"], item["line_item_id"], "fulfill")
            )
    return data


@dataclass
class Agent:
    user: SystemUser
    headers: dict[str, str]

    @property
    def id(self) -> uuid.UUID:
        return self.user.user_id


async def new_agent(client: httpx.AsyncClient, db: Database, settings: Settings) -> Agent:
    user = await create_agent(db, settings)
    return Agent(user, auth_headers(await login_token(client, user.email, user.password)))


async def new_admin(client: httpx.AsyncClient, db: Database, settings: Settings) -> dict[str, str]:
    return await admin_headers(client, db, settings)


async def beat(
    client: httpx.AsyncClient, agent: Agent, status: str = "available", **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/agent/heartbeat", json={"status": status, **extra}, headers=agent.headers
    )


async def agent_post(
    client: httpx.AsyncClient, agent: Agent, order_id: Any, action: str, body: Any = None
) -> httpx.Response:
    return await post(client, f"/api/v1/agent/orders/{order_id}/{action}", agent.headers, body)


async def ready_order(
    client: httpx.AsyncClient, db: Database, quantities: Sequence[int] = (3, 2), **kwargs: Any
) -> Placed:
    """A placed order whose vendor fulfilled every line: ready for dispatch."""
    placed = await place(client, db, (quantities,), **kwargs)
    await ok(await decide(client, placed.vendors[0], placed.order_id, "accept"))
    assert (await fulfil_all(client, placed.vendors[0], placed.order))["status"] == "ready_for_dispatch"
    return placed


async def in_transit(client: httpx.AsyncClient, db: Database, agent: Agent, **kwargs: Any) -> Placed:
    """A ready order claimed and picked up by the agent."""
    placed = await ready_order(client, db, **kwargs)
    await ok(await agent_post(client, agent, placed.order_id, "claim"))
    await ok(await agent_post(client, agent, placed.order_id, "pickup"))
    return placed


async def delivered(client: httpx.AsyncClient, db: Database, agent: Agent, **kwargs: Any) -> Placed:
    placed = await in_transit(client, db, agent, **kwargs)
    await ok(await agent_post(client, agent, placed.order_id, "deliver"))
    return placed


async def age(db: Database, order_id: Any, days: float) -> None:
    """Pretend the order was placed `days` ago."""
    await execute(
        db,
        "UPDATE vendor_orders SET created_at = now() - make_interval(secs => :s) WHERE id = :id",
        s=days * 86400,
        id=uuid.UUID(str(order_id)),
    )


async def expire_order(db: Database, order_id: Any) -> None:
    """Age the order past 10 days and run the TTL job."""
    await age(db, order_id, 11)
    counts = await run_ttl(db, datetime.now(UTC) + timedelta(seconds=1))
    assert counts["expired"] >= 1, counts


@contextlib.asynccontextmanager
async def worker(settings: Settings, db: Database, redis: Redis, *names: str) -> AsyncIterator[Relay]:
    """The relay's publishing and the named consumers running over the real Redis Streams transport."""
    transport = create_transport(settings, topics=TOPICS)
    consumers = [load_consumers()[name] for name in names]
    runner = ConsumerRunner(settings, db, redis, transport, consumers)
    await runner.setup()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield Relay(settings, db, transport)
    finally:
        stop.set()
        await task
        await transport.close()


async def dispatched(db: Database, relay: Relay, order_ids: Sequence[Any], timeout: float = 20.0) -> None:
    """Publish the outbox and wait until every order has an active assignment."""
    await relay.publish_batch()
    ids = [uuid.UUID(str(o)) for o in order_ids]

    async def assigned() -> bool:
        count = await scalar(
            db, "SELECT count(*) FROM order_assignments WHERE active AND order_id = ANY(:ids)", ids=ids
        )
        return int(count) == len(ids)

    await eventually(assigned, timeout=timeout, what="the dispatch consumer's assignments")
