"""The `notifications` consumer: events -> store and admin inbox rows (platform.md §11.2)."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.events.consumer import Consumer, Event, HandlerDeps, register_consumer
from packfinderz.events.registry import LicenseStatusChanged
from packfinderz.notifications import repository
from packfinderz.notifications.rules import ADMINS, HANDLED_TYPES, Facts, needed_ids, notice_id, plan

log = structlog.get_logger("notifications")


async def notify(session: AsyncSession, event: Event) -> None:
    """Read the facts, plan the notices and insert them with deterministic ids (re-runs insert nothing)."""
    license_ids, order_ids = needed_ids(event.data)
    facts = Facts(
        licenses=await repository.license_facts(session, license_ids),
        orders=await repository.order_facts(session, order_ids),
    )
    store_ids = {o.buyer_store_id for o in facts.orders.values()}
    store_ids |= {o.vendor_store_id for o in facts.orders.values()}
    if isinstance(event.data, LicenseStatusChanged):
        store_ids.add(event.data.store_id)
    facts.store_names = await repository.store_names(session, store_ids)
    result = plan(event.data, facts)
    if result.missing:
        log.warning(
            "notifications.source_missing",
            event_id=str(event.event_id),
            event_type=event.event_type,
            missing=result.missing,
        )
    recipients = {n.recipient for n in result.notices if isinstance(n.recipient, uuid.UUID)}
    live_stores = await repository.existing_store_ids(session, recipients)
    store_rows, admin_rows = [], []
    for notice in result.notices:
        row = {
            "id": notice_id(event.event_id, notice.recipient),
            "type": notice.type,
            "title": notice.title,
            "message": notice.message,
            "link": notice.link,
        }
        if notice.recipient == ADMINS:
            admin_rows.append(row)
        elif notice.recipient in live_stores:
            store_rows.append({**row, "store_id": notice.recipient})
        else:
            log.warning(
                "notifications.store_missing", event_id=str(event.event_id), store_id=str(notice.recipient)
            )
    await repository.insert_store_notices(session, store_rows)
    await repository.insert_admin_notices(session, admin_rows)


async def handle(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
    del deps  # notices need only the database
    await notify(session, event)


CONSUMER = register_consumer(
    Consumer(
        name="notifications",
        topics=("orders", "notifications", "billing"),
        event_types=HANDLED_TYPES,
        handler=handle,
    )
)
