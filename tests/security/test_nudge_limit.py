"""Item 10 (issue #17): at most one manual nudge per order per 24 hours.

Before the fix ten nudges made ten vendor notifications.
"""

from __future__ import annotations

import httpx
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.fixtures.db import events
from tests.fixtures.orders import place, post


async def test_one_nudge_per_order_per_day(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db)
    path = f"/api/v1/orders/{placed.order_id}/nudge"
    answers = [await post(client, path, placed.buyer.headers) for _ in range(10)]
    assert [a.status_code for a in answers] == [202] + [429] * 9
    refused = answers[1]
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 86_000 < int(refused.headers["retry-after"]) <= 86_400
    assert len(await events(db, "notification_requested")) == 1
    # a day later the buyer may nudge again
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE vendor_orders SET last_nudged_at = now() - interval '24 hours 1 second'"
                " WHERE id = :id"
            ),
            {"id": placed.order_id},
        )
    assert (await post(client, path, placed.buyer.headers)).status_code == 202
    assert len(await events(db, "notification_requested")) == 2


async def test_a_replayed_nudge_is_not_a_second_one(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db)
    path = f"/api/v1/orders/{placed.order_id}/nudge"
    first = await post(client, path, placed.buyer.headers, key="nudge-once")
    replay = await post(client, path, placed.buyer.headers, key="nudge-once")
    assert (first.status_code, replay.status_code) == (202, 202)
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(await events(db, "notification_requested")) == 1
