"""The flag rule (money-ads-analytics.md §1.4): `subscription_active = COALESCE(override, entitled)`.

The one function every billing write, the webhook, reconcile and the admin override go through, so a
webhook or reconcile never undoes an admin override.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.models.billing import ENTITLED_STATUSES, Subscription
from packfinderz.models.identity import Store

log = structlog.get_logger("billing")


async def entitled(session: AsyncSession, store_id: uuid.UUID) -> bool:
    """Whether the store's live subscription counts as active (none → false)."""
    query = select(
        exists().where(Subscription.store_id == store_id, Subscription.status.in_(ENTITLED_STATUSES))
    )
    return bool((await session.execute(query)).scalar_one())


async def apply_flag_rule(session: AsyncSession, store_id: uuid.UUID) -> bool:
    """Write `subscription_active = COALESCE(subscription_override, entitled)` when it changes.

    Returns whether the flag changed. Vendor stores only; a buyer store is left alone.
    """
    row = (
        await session.execute(
            select(Store.type, Store.subscription_active, Store.subscription_override)
            .where(Store.id == store_id)
            .with_for_update()
        )
    ).one_or_none()
    if row is None or row.type != "vendor":
        return False
    wanted = (
        row.subscription_override
        if row.subscription_override is not None
        else await entitled(session, store_id)
    )
    if wanted == row.subscription_active:
        return False
    await session.execute(update(Store).where(Store.id == store_id).values(subscription_active=wanted))
    log.info("billing.subscription_flag_changed", store_id=str(store_id), subscription_active=wanted,
             override=row.subscription_override is not None)  # fmt: skip
    return True


async def drifted_stores(session: AsyncSession, limit: int = 1000) -> list[uuid.UUID]:
    """Vendor stores whose flag disagrees with COALESCE(override, entitled) (reconcile's drift repair)."""
    live = exists().where(Subscription.store_id == Store.id, Subscription.status.in_(ENTITLED_STATUSES))
    wanted = func.coalesce(Store.subscription_override, case((live, True), else_=False))
    query = (
        select(Store.id)
        .where(Store.type == "vendor", Store.subscription_active.is_distinct_from(wanted))
        .order_by(Store.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())
