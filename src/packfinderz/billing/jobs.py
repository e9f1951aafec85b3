"""Cron `subscription-reconcile` (money-ads-analytics.md §1.4, platform.md §12): re-sync subscriptions and
repair store flags that drifted from COALESCE(override, entitled)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.billing import sync
from packfinderz.billing.flag import apply_flag_rule, drifted_stores
from packfinderz.billing.provider import BillingProvider, ProviderNotFound, provider_for
from packfinderz.config import Settings
from packfinderz.cron.scheduler import JobContext, job
from packfinderz.kit.db import Database
from packfinderz.models.billing import LIVE_STATUSES, Subscription

log = structlog.get_logger("billing.reconcile")

BATCH = 250


async def _candidates(session: AsyncSession, now: datetime) -> list[tuple[uuid.UUID, str]]:
    query = (
        select(Subscription.id, Subscription.provider_subscription_id)
        .where(
            or_(
                Subscription.status.in_(LIVE_STATUSES),
                Subscription.cancel_at_period_end,
                Subscription.pause_effective_at.is_not(None),
                Subscription.resume_effective_at.is_not(None),
                Subscription.current_period_end >= now - timedelta(days=7),
            )
        )
        .order_by(Subscription.updated_at, Subscription.id)
        .limit(BATCH)
    )
    return [(row[0], row[1]) for row in await session.execute(query)]


async def reconcile(
    db: Database, provider: BillingProvider, settings: Settings, now: datetime
) -> dict[str, int]:
    """One run: ≤ 250 rows least recently updated first, then drift repair; counts per item action."""
    counts = {"synced": 0, "flag_changed": 0, "not_found": 0, "failed": 0}
    async with db.transaction() as session:
        rows = await _candidates(session, now)
    for row_id, provider_id in rows:
        try:
            data = await provider.get_subscription(provider_id)
        except ProviderNotFound:
            counts["not_found"] += 1
            log.warning(
                "billing.reconcile_not_found", subscription_id=str(row_id), provider_object_id=provider_id
            )
            continue
        except Exception as exc:
            counts["failed"] += 1
            log.error("billing.reconcile_failed", subscription_id=str(row_id), exc_info=exc)
            continue
        try:
            async with db.transaction() as session:
                result = await sync.upsert_subscription(session, data, settings.billing_past_due_grace_days)
        except Exception as exc:
            counts["failed"] += 1
            log.error("billing.reconcile_failed", subscription_id=str(row_id), exc_info=exc)
            continue
        counts["synced"] += 1
        counts["flag_changed"] += int(result.flag_changed)
    async with db.transaction() as session:
        drifted = await drifted_stores(session)
    for store_id in drifted:
        try:
            async with db.transaction() as session:
                changed = await apply_flag_rule(session, store_id)
        except Exception as exc:
            counts["failed"] += 1
            log.error("billing.reconcile_failed", store_id=str(store_id), exc_info=exc)
            continue
        if changed:
            counts["flag_changed"] += 1
            log.warning("billing.flag_drift_repaired", store_id=str(store_id))
    return counts


@job("subscription-reconcile")
async def subscription_reconcile(ctx: JobContext) -> dict[str, int]:
    """The hourly run."""
    provider = provider_for(ctx.settings, ctx.db)
    try:
        return await reconcile(ctx.db, provider, ctx.settings, datetime.now(UTC))
    finally:
        await provider.aclose()
