"""Every action against every reachable order status: what commerce.md's tables do not list answers 422
STATE_CONFLICT, a repeated transition answers 200, and neither changes anything (rows, stock, ledger,
events, audit)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.db import execute, rows
from tests.fixtures.orders import (
    Agent,
    Placed,
    agent_post,
    decide,
    decide_line,
    delivered,
    expire_order,
    in_transit,
    new_admin,
    new_agent,
    ok,
    order_row,
    place,
    post,
    ready_order,
    snapshot,
)


@dataclass
class World:
    client: httpx.AsyncClient
    db: Database
    agent: Agent
    admin: dict[str, str]
    placed: Placed

    @property
    def order_id(self) -> str:
        return self.placed.order_id


Builder = Callable[[httpx.AsyncClient, Database, Agent, dict[str, str]], Awaitable[Placed]]


async def _pending(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    return await place(client, db, ((3, 2),))


async def _accepted(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    placed = await _pending(client, db, agent, admin)
    await ok(await decide(client, placed.vendors[0], placed.order_id, "accept"))
    return placed


async def _partial(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    placed = await _pending(client, db, agent, admin)
    first = placed.order["items"][0]["line_item_id"]
    await ok(await decide_line(client, placed.vendors[0], placed.order_id, first, "reject"))
    return placed


async def _rejected(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    placed = await _pending(client, db, agent, admin)
    await ok(await decide(client, placed.vendors[0], placed.order_id, "reject"))
    return placed


async def _ready(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    return await ready_order(client, db)


async def _in_transit(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    return await in_transit(client, db, agent)


async def _delivered(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    return await delivered(client, db, agent)


async def _hold(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    placed = await in_transit(client, db, agent)
    response = await agent_post(client, agent, placed.order_id, "cash-collected", {"amount_cents": 1})
    assert response.status_code == 422, response.text
    return placed


async def _closed(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    placed = await delivered(client, db, agent)
    await ok(await agent_post(client, agent, placed.order_id, "cash-collected"))
    await ok(await post(client, f"/api/admin/v1/orders/{placed.order_id}/confirm-payout", admin))
    return placed


async def _canceled(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    placed = await _pending(client, db, agent, admin)
    await ok(await post(client, f"/api/v1/orders/{placed.order_id}/cancel", placed.buyer.headers))
    return placed


async def _expired(client: httpx.AsyncClient, db: Database, agent: Agent, admin: dict[str, str]) -> Placed:
    placed = await _pending(client, db, agent, admin)
    await expire_order(db, placed.order_id)
    return placed


STATES: dict[str, Builder] = {
    "created_pending": _pending,
    "accepted": _accepted,
    "partially_accepted": _partial,
    "rejected": _rejected,
    "ready_for_dispatch": _ready,
    "in_transit": _in_transit,
    "delivered": _delivered,
    "hold": _hold,
    "closed": _closed,
    "canceled": _canceled,
    "expired": _expired,
}


async def _resolved_line_flip(w: World) -> httpx.Response | None:
    """The opposite decision on a line already decided (None when every line is still pending)."""
    lines = await rows(
        w.db,
        "SELECT id, status FROM order_line_items WHERE order_id = :id AND status <> 'pending' "
        "ORDER BY position",
        id=uuid.UUID(w.order_id),
    )
    if not lines:
        return None
    flip = "reject" if lines[0]["status"] == "fulfilled" else "fulfill"
    return await decide_line(w.client, w.placed.vendors[0], w.order_id, lines[0]["id"], flip)


Action = Callable[[World], Awaitable[httpx.Response | None]]


def _vendor(decision: str) -> Action:
    async def act(w: World) -> httpx.Response:
        return await decide(w.client, w.placed.vendors[0], w.order_id, decision)

    return act


def _buyer(action: str) -> Action:
    async def act(w: World) -> httpx.Response:
        return await post(w.client, f"/api/v1/orders/{w.order_id}/{action}", w.placed.buyer.headers)

    return act


def _agent(action: str, body: Any = None) -> Action:
    async def act(w: World) -> httpx.Response:
        return await agent_post(w.client, w.agent, w.order_id, action, body)

    return act


async def _payout(w: World) -> httpx.Response:
    return await post(w.client, f"/api/admin/v1/orders/{w.order_id}/confirm-payout", w.admin)


async def _assign_same(w: World) -> httpx.Response:
    body = {"agent_user_id": str(w.agent.id)}
    return await post(w.client, f"/api/admin/v1/orders/{w.order_id}/assign-agent", w.admin, body)


async def _manifest(w: World) -> httpx.Response:
    return await post(w.client, f"/api/v1/vendor/orders/{w.order_id}/manifest", w.placed.vendors[0].headers)


# action -> (statuses where it does something, statuses where it repeats a reached transition: 200)
ACTIONS: dict[str, tuple[Action, set[str], set[str]]] = {
    "accept": (_vendor("accept"), {"created_pending"}, {"accepted"}),
    "reject": (_vendor("reject"), {"created_pending"}, {"rejected"}),
    "line decision": (
        _resolved_line_flip,
        set(),
        set(),
    ),
    "cancel": (
        _buyer("cancel"),
        {"created_pending", "accepted", "partially_accepted", "ready_for_dispatch"},
        {"canceled"},
    ),
    "nudge": (
        _buyer("nudge"),
        {"created_pending", "accepted", "partially_accepted", "ready_for_dispatch", "hold"},
        set(),
    ),
    "retry": (_buyer("retry"), {"expired"}, set()),
    "claim": (_agent("claim"), set(), {"ready_for_dispatch"}),
    "pickup": (_agent("pickup"), {"ready_for_dispatch"}, {"in_transit"}),
    "deliver": (_agent("deliver"), {"in_transit"}, {"delivered"}),
    "cash-collected": (_agent("cash-collected"), {"in_transit", "delivered"}, {"closed"}),
    "confirm-payout": (_payout, set(), {"closed"}),
    "assign-agent": (_assign_same, set(), {"ready_for_dispatch", "in_transit", "hold"}),
    "manifest": (_manifest, {"ready_for_dispatch", "in_transit", "delivered", "hold", "closed"}, set()),
}


@pytest.mark.parametrize("state", list(STATES))
async def test_actions_outside_the_tables_answer_422_and_change_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings, state: str
) -> None:
    agent = await new_agent(client, db, settings)
    admin = await new_admin(client, db, settings)
    placed = await STATES[state](client, db, agent, admin)
    assert (await order_row(db, placed.order_id))["status"] == state
    held = await rows(
        db, "SELECT 1 FROM order_assignments WHERE order_id = :id AND active", id=uuid.UUID(placed.order_id)
    )
    if not held:
        # The agent holds the order, so agent actions meet the status rules rather than the 403 of
        # not being the assignee.
        await execute(
            db,
            "INSERT INTO order_assignments (order_id, agent_user_id, source, assigned_by_user_id) "
            "VALUES (:o, :a, 'claim', :a)",
            o=uuid.UUID(placed.order_id),
            a=agent.id,
        )
    world = World(client, db, agent, admin, placed)
    checked = []
    for name, (act, allowed, repeats) in ACTIONS.items():
        if state in allowed:
            continue
        before = await snapshot(db, placed.order_id)
        response = await act(world)
        if response is None:
            continue
        if state in repeats:
            assert response.status_code == 200, (state, name, response.text)
        else:
            assert response.status_code == 422, (state, name, response.text)
            assert response.json()["error"]["code"] == "STATE_CONFLICT", (state, name)
        assert await snapshot(db, placed.order_id) == before, (state, name)
        checked.append(name)
    assert checked, state
