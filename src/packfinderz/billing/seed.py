"""`packfinderz seed --demo`: demo vendors get real sandbox subscriptions (customer, card, default plan)
instead of a flag set by hand, so the demo exercises the same billing path as a real vendor."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from packfinderz.billing import service
from packfinderz.billing.sandbox import SandboxProvider
from packfinderz.billing.schemas import CardIn, SubscribeIn
from packfinderz.config import Settings
from packfinderz.events.outbox import Actor
from packfinderz.kit.db import Database
from packfinderz.models.billing import BillingPlan
from packfinderz.models.identity import Store, User

log = structlog.get_logger("billing.seed")

DEMO_PLAN = {
    "id": "starter_v1",
    "name": "Starter",
    "status": "active",
    "provider_plan_id": "sandbox-starter-monthly",
    "is_default": True,
    "interval": "EVERY_30_DAYS",
    "price_amount_cents": 9900,
    "currency_code": "USD",
    "features": ["marketplace_visibility", "ads", "analytics"],
    "ui": {"badge": "popular", "description": "Everything a vendor needs", "bullets": ["Listed statewide"]},
}


async def subscribe_demo_vendors(database: Database, settings: Settings, store_ids: list[uuid.UUID]) -> int:
    """Default plan, then per vendor: customer, sandbox card, subscription (flag by the flag rule).
    Only with the sandbox provider; returns how many vendors were subscribed."""
    if settings.effective_billing_provider != "sandbox":
        log.warning("billing.demo_skipped", provider=settings.effective_billing_provider)
        return 0
    provider = SandboxProvider(database)
    async with database.transaction() as session:
        await session.execute(insert(BillingPlan).values(**DEMO_PLAN).on_conflict_do_nothing())
    for store_id in store_ids:
        async with database.transaction() as session:
            store = (await session.execute(select(Store).where(Store.id == store_id))).scalar_one()
            owner = await session.get(User, store.owner_user_id)
            assert owner is not None
            if not store.billing_customer_id:
                await service.link_registered_vendor(session, provider, store, owner)
            actor = Actor(owner.id, "owner", store.id)
            key = f"demo-{store.id}"
            await service.add_card(
                session,
                provider,
                store=store,
                actor=actor,
                body=CardIn(
                    source_id=f"sbx-demo-{store.id}", cardholder_name=owner.first_name, is_default=True
                ),
                http_key=key,
            )
            await service.create_subscription(
                session,
                provider,
                settings=settings,
                store=store,
                actor=actor,
                body=SubscribeIn(),
                http_key=key,
            )
    return len(store_ids)
