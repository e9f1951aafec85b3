"""What the console pages show, composed from the domains' own services (the console owns no rule)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.analytics import service as analytics
from packfinderz.analytics.ranges import Preset, resolve
from packfinderz.console import repository
from packfinderz.delivery import service as delivery
from packfinderz.delivery.schemas import AgentDTO
from packfinderz.events import repository as events
from packfinderz.kit.errors import AppError
from packfinderz.kit.pagination import PageParams
from packfinderz.kit.warehouse import Warehouse
from packfinderz.ledger import service as ledger
from packfinderz.licenses import service as licenses
from packfinderz.licenses.repository import AdminLicenseFilters
from packfinderz.media.files import Files
from packfinderz.orders import service as orders
from packfinderz.orders.schemas import OrderDetail

# Lists the console reads whole for a figure; past this it shows "N+".
FIGURE_CAP = 100


@dataclass(frozen=True)
class Operations:
    """Live figures of the dashboard."""

    outbox: events.OutboxStats
    dead_letters: int
    agents_online: int
    agents_total: int
    licenses_pending: int
    payouts_pending: int
    payouts_more: bool


async def agents(session: AsyncSession, redis: Redis) -> list[AgentDTO]:
    """Every agent (first FIGURE_CAP, newest first) with presence and last heartbeat."""
    page = await delivery.list_agents(session, redis, None, None, PageParams(limit=FIGURE_CAP))
    return page.items


async def operations(session: AsyncSession, redis: Redis, files: Files) -> Operations:
    """Outbox backlog, dead letters, agents online, licenses and payouts waiting for an admin."""
    outbox = await events.stats(session)
    _, _, licenses_pending = await licenses.admin_list(
        session, files, AdminLicenseFilters(status="pending"), PageParams(limit=1)
    )
    payouts = await ledger.payout_queue(session, PageParams(limit=FIGURE_CAP))
    found = await agents(session, redis)
    return Operations(
        outbox=outbox,
        dead_letters=outbox.dead_lettered,
        agents_online=sum(1 for agent in found if agent.presence != "offline"),
        agents_total=len(found),
        licenses_pending=licenses_pending,
        payouts_pending=len(payouts.items),
        payouts_more=payouts.next_cursor is not None,
    )


async def marketplace(
    session: AsyncSession, warehouse: Warehouse, tz: str, preset: Preset
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str | None]:
    """(report, top vendors with names, error): the marketplace-wide analytics of the last N days."""
    r = resolve(tz, datetime.now(UTC), preset, None, None)
    try:
        report = await analytics.marketplace_report(session, warehouse, None, "vendor", r)
        top = await analytics.top_vendors(session, warehouse, r)
    except AppError as exc:
        return None, [], exc.message
    names = await repository.store_names(session, [entry["store_id"] for entry in top])
    vendors = [{**entry, "name": names.get(entry["store_id"], str(entry["store_id"]))} for entry in top]
    return report, vendors, None


@dataclass(frozen=True)
class Timeline:
    """An order's detail and its history: outbox events, assignments, ledger rows."""

    detail: OrderDetail
    events: list[Any]
    assignments: list[Any]
    ledger: list[Any]
    assignable: bool


async def order_timeline(session: AsyncSession, order_id: uuid.UUID) -> Timeline:
    """404 for an unknown order."""
    order = await orders.found_order(session, order_id)
    detail = await orders.order_detail(session, order)
    return Timeline(
        detail=detail,
        events=await repository.order_events(session, order.id),
        assignments=await repository.order_assignments(session, order.id),
        ledger=await repository.order_ledger(session, order.id),
        assignable=order.status in delivery.ASSIGNABLE,
    )
