"""Cron jobs `ad-daily-rollup` and `ad-usage-billing` (money-ads-analytics.md §2.8, §2.9).

Rollup: a UTC day's Redis counters become `ad_daily_rollups` rows (written only when a value changes,
each change announced by `ad_daily_rollup_ready`) and one `usage_charges` row per store and day, which
stops changing once it is no longer pending, so a store's day is billed once however often the job runs.

Usage billing: one payment per usage row through the billing provider, keyed `usage-<id>-<attempt>` so a
retry after a crash finds the same payment; a failure pauses the store's active ads (`billing_failed`)
and the row is retried nightly, three attempts in all.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.ads import counters, repository, service
from packfinderz.billing.provider import BillingProvider, ProviderDeclined, provider_for
from packfinderz.cron.scheduler import JobContext, job
from packfinderz.events.outbox import emit
from packfinderz.events.registry import AdDailyRollupReady
from packfinderz.kit.db import Database
from packfinderz.kit.errors import AppError
from packfinderz.models.billing import LIVE_STATUSES, Charge, PaymentMethod, Subscription, UsageCharge
from packfinderz.models.identity import Store

log = structlog.get_logger("ads")

MGET_BATCH = 500
MAX_ATTEMPTS = 3
BILLING_WINDOW_DAYS = 7


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- ad-daily-rollup -----------------------------------------------------------------------------------


async def _upsert_usage(
    session: AsyncSession, store_id: uuid.UUID, day: date, impressions: int, amount_cents: int
) -> bool:
    """The store's usage row of the day; a row that is no longer pending never changes. Whether written."""
    values = {"quantity": impressions, "amount_cents": amount_cents}
    inserted = pg_insert(UsageCharge).values(
        store_id=store_id,
        usage_type="ad_spend",
        for_date=day,
        description=f"Ad spend {day.isoformat()}",
        **values,
    )
    statement = inserted.on_conflict_do_update(
        index_elements=[UsageCharge.store_id, UsageCharge.usage_type, UsageCharge.for_date],
        set_={**{k: getattr(inserted.excluded, k) for k in values}, "updated_at": func.now()},
        where=and_(
            UsageCharge.status == "pending",
            or_(*(getattr(UsageCharge, k) != getattr(inserted.excluded, k) for k in values)),
        ),
    ).returning(UsageCharge.id)
    return (await session.execute(statement)).first() is not None


async def _roll_store(
    session: AsyncSession, store_id: uuid.UUID, day: date, rows: list[dict[str, Any]]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    written = await repository.upsert_rollups(session, rows)
    for row in written:
        await emit(
            session,
            AdDailyRollupReady(
                ad_id=row["ad_id"],
                vendor_store_id=row["vendor_store_id"],
                day=row["day"],
                impressions=row["impressions"],
                clicks=row["clicks"],
                spend_cents=row["spend_cents"],
            ),
        )
    counts["rolled_up"] += len(written)
    counts["events_emitted"] += len(written)
    impressions, amount = await repository.store_day_totals(session, store_id, day)
    if await _upsert_usage(session, store_id, day, impressions, amount):
        counts["usage_rows"] += 1
    return counts


async def run_rollup(db: Database, redis: Redis, day: date, now: datetime) -> dict[str, int]:
    """Roll up one UTC day, then expire ended ads; one transaction per vendor store."""
    counts: Counter[str] = Counter({"rolled_up": 0, "events_emitted": 0, "usage_rows": 0, "ads_expired": 0})
    start = datetime.combine(day, time(), UTC)
    async with db.transaction() as session:
        ads = await repository.ads_overlapping(session, start, start + timedelta(days=1))
    by_store: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for offset in range(0, len(ads), MGET_BATCH):
        batch = ads[offset : offset + MGET_BATCH]
        found = await counters.day_counters(redis, [a.ad_id for a in batch], day)
        for ad in batch:
            day_counts = found[ad.ad_id]
            if day_counts.empty:
                continue
            by_store[ad.store_id].append(
                {
                    "ad_id": ad.ad_id,
                    "day": day,
                    "vendor_store_id": ad.store_id,
                    "impressions": day_counts.impressions,
                    "clicks": day_counts.clicks,
                    "spend_millicents": day_counts.spend_millicents,
                    # Billed spend never exceeds the budget (§2.6), whatever the counters say.
                    "spend_cents": min(
                        service.half_up_cents(day_counts.spend_millicents), ad.daily_budget_cents
                    ),
                }
            )
    for store_id, rows in by_store.items():
        try:
            async with db.transaction() as session:
                counts.update(await _roll_store(session, store_id, day, rows))
        except Exception as exc:
            counts["failed"] += 1
            log.error("ads.rollup_failed", store_id=str(store_id), day=day.isoformat(), exc_info=exc)
    async with db.transaction() as session:
        counts["ads_expired"] += await service.expire_ended(session, now)
    return dict(counts)


@job("ad-daily-rollup")
async def ad_daily_rollup(ctx: JobContext) -> dict[str, int]:
    """Nightly for yesterday (UTC), or the `--day` of `packfinderz cron run`."""
    now = utcnow()
    return await run_rollup(ctx.db, ctx.redis, ctx.day or (now.date() - timedelta(days=1)), now)


# --- ad-usage-billing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    usage_id: uuid.UUID
    store_id: uuid.UUID
    for_date: date
    amount_cents: int
    attempt: int
    customer_id: str
    card_id: str
    payment_method_id: uuid.UUID
    subscription_id: uuid.UUID | None

    @property
    def key(self) -> str:
        return f"usage-{self.usage_id}-{self.attempt}"


def _due(today: date) -> Any:
    return and_(
        or_(
            UsageCharge.status == "pending",
            and_(UsageCharge.status == "failed", UsageCharge.attempt_count < MAX_ATTEMPTS),
        ),
        UsageCharge.for_date >= today - timedelta(days=BILLING_WINDOW_DAYS),
    )


async def _lock_due(session: AsyncSession, usage_id: uuid.UUID, today: date) -> UsageCharge | None:
    query = (
        select(UsageCharge)
        .where(UsageCharge.id == usage_id, _due(today))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one_or_none()


async def _fail(session: AsyncSession, usage: UsageCharge, error: str, attempt: int) -> None:
    await session.execute(
        update(UsageCharge)
        .where(UsageCharge.id == usage.id)
        .values(status="failed", attempt_count=attempt, last_error=error[:500], updated_at=func.now())
    )
    await service.pause_for_billing(session, usage.store_id)


async def _prepare(db: Database, usage_id: uuid.UUID, today: date) -> _Attempt | str | None:
    """Lock the row and settle what needs no payment; else what to charge. None: no longer due."""
    async with db.transaction() as session:
        usage = await _lock_due(session, usage_id, today)
        if usage is None:
            return None
        if usage.amount_cents == 0:
            await session.execute(
                update(UsageCharge)
                .where(UsageCharge.id == usage.id)
                .values(status="skipped", updated_at=func.now())
            )
            return "skipped"
        attempt = usage.attempt_count + 1
        store = await session.get(Store, usage.store_id)
        card = await session.scalar(
            select(PaymentMethod).where(PaymentMethod.store_id == usage.store_id, PaymentMethod.is_default)
        )
        if store is None or not store.billing_customer_id or card is None:
            no_customer = store is None or not store.billing_customer_id
            reason = "store has no billing customer" if no_customer else "store has no default card"
            await _fail(session, usage, reason, attempt)
            log.warning(
                "ads.usage_billing.failed",
                usage_id=str(usage.id),
                store_id=str(usage.store_id),
                reason=reason,
            )
            return "failed"
        return _Attempt(
            usage_id=usage.id,
            store_id=usage.store_id,
            for_date=usage.for_date,
            amount_cents=usage.amount_cents,
            attempt=attempt,
            customer_id=store.billing_customer_id,
            card_id=card.provider_card_id,
            payment_method_id=card.id,
            subscription_id=await session.scalar(
                select(Subscription.id).where(
                    Subscription.store_id == usage.store_id, Subscription.status.in_(LIVE_STATUSES)
                )
            ),
        )


async def _record(
    db: Database, plan: _Attempt, today: date, *, payment_id: str | None, failure: str | None
) -> str:
    """Write the charge and settle the usage row in one transaction; `billed` or `failed`."""
    async with db.transaction() as session:
        usage = await _lock_due(session, plan.usage_id, today)
        if usage is None or usage.attempt_count != plan.attempt - 1:
            return "skipped"  # another run settled this attempt meanwhile
        succeeded = failure is None
        insert_charge = pg_insert(Charge).values(
            store_id=plan.store_id,
            type="ad_spend",
            payment_method_id=plan.payment_method_id,
            subscription_id=plan.subscription_id,
            # A decline returns no payment object: the attempt's key names the failed charge.
            provider_charge_id=payment_id or plan.key,
            amount_cents=plan.amount_cents,
            status="succeeded" if succeeded else "failed",
            description=f"Ad spend {plan.for_date.isoformat()}",
            failure_reason=failure,
            billed_at=utcnow() if succeeded else None,
            details={"usage_charge_id": str(plan.usage_id), "attempt": plan.attempt},
        )
        charge_id = (
            await session.execute(
                insert_charge.on_conflict_do_update(
                    index_elements=[Charge.provider_charge_id],
                    set_={
                        "status": insert_charge.excluded.status,
                        "failure_reason": insert_charge.excluded.failure_reason,
                        "billed_at": insert_charge.excluded.billed_at,
                        "updated_at": func.now(),
                    },
                    where=Charge.status != "succeeded",  # succeeded is never downgraded (§1.6)
                ).returning(Charge.id)
            )
        ).scalar()
        if charge_id is None:
            charge_id = await session.scalar(
                select(Charge.id).where(Charge.provider_charge_id == (payment_id or plan.key))
            )
        if succeeded:
            await session.execute(
                update(UsageCharge)
                .where(UsageCharge.id == usage.id)
                .values(
                    status="billed",
                    # What was charged: a rollup re-run racing this payment cannot change a billed day.
                    amount_cents=plan.amount_cents,
                    subscription_id=plan.subscription_id,
                    attempt_count=plan.attempt,
                    charge_id=charge_id,
                    last_error=None,
                    updated_at=func.now(),
                )
            )
            log.info("ads.usage_billing.billed", usage_id=str(usage.id), store_id=str(usage.store_id))
            return "billed"
        await session.execute(
            update(UsageCharge).where(UsageCharge.id == usage.id).values(charge_id=charge_id)
        )
        await _fail(session, usage, failure or "payment failed", plan.attempt)
        log.warning(
            "ads.usage_billing.failed", usage_id=str(usage.id), store_id=str(usage.store_id), reason=failure
        )
        return "failed"


async def bill_usage(db: Database, provider: BillingProvider, usage_id: uuid.UUID, today: date) -> str | None:
    """Bill one usage row: `billed`, `failed`, `skipped`, or None when it was no longer due.

    Provider outages (503) propagate: the row keeps its attempt count, so the next run sends the same
    idempotency key and gets the same payment back if the first call did go through.
    """
    plan = await _prepare(db, usage_id, today)
    if plan is None or isinstance(plan, str):
        return plan
    try:
        payment = await provider.create_payment(
            plan.amount_cents, plan.customer_id, plan.card_id, str(plan.usage_id), plan.key
        )
    except ProviderDeclined as exc:
        return await _record(db, plan, today, payment_id=None, failure=f"{exc.message} ({exc.provider_code})")
    except AppError as exc:
        if exc.status >= 500:
            raise
        return await _record(db, plan, today, payment_id=None, failure=exc.message)
    if payment.status != "COMPLETED":
        return await _record(
            db, plan, today, payment_id=payment.id, failure=f"payment {payment.status.lower()}"
        )
    return await _record(db, plan, today, payment_id=payment.id, failure=None)


async def run_usage_billing(db: Database, provider: BillingProvider, today: date) -> dict[str, int]:
    """Bill every due usage row, oldest day first."""
    counts: Counter[str] = Counter({"billed": 0, "failed": 0, "skipped": 0})
    async with db.transaction() as session:
        due = list(
            await session.scalars(
                select(UsageCharge.id).where(_due(today)).order_by(UsageCharge.for_date, UsageCharge.id)
            )
        )
    for usage_id in due:
        try:
            outcome = await bill_usage(db, provider, usage_id, today)
        except Exception as exc:
            counts["failed"] += 1
            log.error(
                "ads.usage_billing.error", usage_id=str(usage_id), error=type(exc).__name__, exc_info=exc
            )
            continue
        if outcome is not None:
            counts[outcome] += 1
    return dict(counts)


@job("ad-usage-billing")
async def ad_usage_billing(ctx: JobContext) -> dict[str, int]:
    """Nightly after the rollup."""
    return await run_usage_billing(ctx.db, provider_for(ctx.settings, ctx.db), utcnow().date())
