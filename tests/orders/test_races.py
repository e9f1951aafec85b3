"""Races with real concurrency (parallel requests on separate connections to one Postgres): claims,
cash collection, cancel against the vendor's decision, repeated line decisions and deliveries, and the
TTL job run twice at once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.orders.jobs import run_ttl
from tests.fixtures.db import events, ledger, rows, stock
from tests.fixtures.orders import (
    age,
    agent_post,
    decide,
    decide_line,
    delivered,
    in_transit,
    new_agent,
    order_row,
    place,
    post,
    ready_order,
)


async def test_the_first_of_many_claims_wins(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    placed = await ready_order(client, db)
    agents = [await new_agent(client, db, settings) for _ in range(6)]
    responses = await asyncio.gather(
        *(agent_post(client, agent, placed.order_id, "claim") for agent in agents)
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 5}, [r.text for r in responses]
    winner = agents[[r.status_code for r in responses].index(200)]
    [assignment] = await rows(
        db, "SELECT * FROM order_assignments WHERE order_id = :id", id=uuid.UUID(placed.order_id)
    )
    assert (assignment["agent_user_id"], assignment["active"]) == (winner.id, True)


async def test_concurrent_cash_collections_write_one_ledger_row(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await delivered(client, db, agent)
    total = placed.order["total_cents"]
    responses = await asyncio.gather(
        *(
            agent_post(client, agent, placed.order_id, "cash-collected", {"amount_cents": total})
            for _ in range(5)
        )
    )
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert {r.json()["data"]["payment_status"] for r in responses} == {"settled"}
    [entry] = await ledger(db)
    assert (entry["type"], entry["amount_cents"]) == ("cash_collected", total)
    assert len(await events(db, "cash_collected")) == 1


async def test_concurrent_deliveries_consume_stock_once(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await in_transit(client, db, agent, quantities=(4,))
    product = placed.products[0][0]
    responses = await asyncio.gather(
        *(agent_post(client, agent, placed.order_id, "deliver") for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5
    assert await stock(db, product["id"]) == (96, 0)


async def test_cancel_racing_accept_leaves_stock_consistent(client: httpx.AsyncClient, db: Database) -> None:
    runs = [await place(client, db, ((3, 2),)) for _ in range(4)]
    results = await asyncio.gather(
        *(
            asyncio.gather(
                post(client, f"/api/v1/orders/{placed.order_id}/cancel", placed.buyer.headers),
                decide(client, placed.vendors[0], placed.order_id, "accept"),
            )
            for placed in runs
        )
    )
    for placed, (cancel, accept) in zip(runs, results, strict=True):
        # Either the accept came first (the accepted order is still cancelable) or the cancel did (the
        # accept then meets a canceled order): in both cases the buyer's cancel stands.
        assert cancel.status_code == 200, cancel.text
        assert accept.status_code in (200, 422), accept.text
        assert (await order_row(db, placed.order_id))["status"] == "canceled"
        for product in placed.products[0]:
            assert await stock(db, product["id"]) == (100, 0)
    canceled = await events(db, "order_canceled")
    assert sorted(e["order_id"] for e in canceled) == sorted(p.order_id for p in runs)
    accepted = sum(1 for _, accept in results if accept.status_code == 200)
    assert len(await events(db, "order_decided")) == accepted


async def test_cancel_racing_reject_has_exactly_one_winner(client: httpx.AsyncClient, db: Database) -> None:
    runs = [await place(client, db, ((3, 2),)) for _ in range(4)]
    results = await asyncio.gather(
        *(
            asyncio.gather(
                post(client, f"/api/v1/orders/{placed.order_id}/cancel", placed.buyer.headers),
                decide(client, placed.vendors[0], placed.order_id, "reject"),
            )
            for placed in runs
        )
    )
    for placed, (cancel, reject) in zip(runs, results, strict=True):
        assert sorted([cancel.status_code, reject.status_code]) == [200, 422], (cancel.text, reject.text)
        expected = "canceled" if cancel.status_code == 200 else "rejected"
        assert (await order_row(db, placed.order_id))["status"] == expected
        for product in placed.products[0]:
            assert await stock(db, product["id"]) == (100, 0)  # released once, whoever won


async def test_the_same_line_rejected_in_parallel_is_released_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    placed = await place(client, db, ((5, 2),))
    product = placed.products[0][0]
    line_id = placed.order["items"][0]["line_item_id"]
    responses = await asyncio.gather(
        *(decide_line(client, placed.vendors[0], placed.order_id, line_id, "reject") for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5
    assert await stock(db, product["id"]) == (100, 0)
    assert (await order_row(db, placed.order_id))["status"] == "partially_accepted"


async def test_the_ttl_job_run_twice_at_once_nudges_once_and_expires_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    slow = await place(client, db, ((3,),))
    abandoned = await place(client, db, ((4,),))
    await age(db, slow.order_id, 6)
    await age(db, abandoned.order_id, 11)
    moment = datetime.now(UTC)
    first, second = await asyncio.gather(run_ttl(db, moment), run_ttl(db, moment))
    assert first["nudged"] + second["nudged"] == 1
    assert first["expired"] + second["expired"] == 1
    assert first["failed"] == second["failed"] == 0
    assert [e["order_id"] for e in await events(db, "order_pending_nudge")] == [slow.order_id]
    assert [e["order_id"] for e in await events(db, "order_expired")] == [abandoned.order_id]
    assert await stock(db, abandoned.products[0][0]["id"]) == (100, 0)
    assert await stock(db, slow.products[0][0]["id"]) == (97, 3)
