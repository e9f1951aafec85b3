"""Ad rules for vendors (money-ads-analytics.md §2.2, §2.3, §3.5) and the one owner of an ad's status.

Transitions: draft/paused → active (PATCH; needs `subscription_active` and KYC `verified`), active →
paused (PATCH, or failed ad billing with `paused_reason = billing_failed`), active/paused → expired
(nightly job), any → archived (DELETE). Expired and archived ads are read-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.ads import counters, repository
from packfinderz.ads.repository import AdFilters, CreativeRow
from packfinderz.ads.schemas import (
    AdAnalytics,
    AdCreate,
    AdDetail,
    AdDTO,
    AdMetrics,
    AdSeriesPoint,
    AdUpdate,
    BudgetState,
    CreativeDTO,
    CreativeIn,
)
from packfinderz.analytics import ranges
from packfinderz.analytics import service as analytics
from packfinderz.auth.deps import StoreCtx
from packfinderz.kit.errors import Conflict, NotFound, StateConflict, ValidationFailed
from packfinderz.kit.money import ratio, round_half_up
from packfinderz.kit.pagination import PageParams
from packfinderz.kit.warehouse import Warehouse
from packfinderz.media import repository as media_repository
from packfinderz.media.attachments import reconcile
from packfinderz.models.ads import Ad
from packfinderz.models.identity import Store

log = structlog.get_logger("ads")

ATTACHMENT = "ad"
READ_ONLY = frozenset({"expired", "archived"})
# §2.2: which target types each placement takes.
PLACEMENT_TARGETS = {"hero": ("store", "product"), "store": ("store",), "product": ("product",)}
REDIS_DAYS = 8  # counters live 8 days; older days without a rollup read as zero


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- checks ------------------------------------------------------------------------------------------


async def _check_target(
    session: AsyncSession, store: Store, placement: str, target_type: str, target_id: uuid.UUID
) -> None:
    """The type table of §2.2 and the target's ownership; 400 otherwise."""
    allowed = PLACEMENT_TARGETS[placement]
    if target_type not in allowed:
        raise ValidationFailed(
            details={"target_type": f"placement {placement} takes target_type {' or '.join(allowed)}"}
        )
    if target_type == "store":
        if target_id != store.id:
            raise ValidationFailed(details={"target_id": "must be your own store"})
    elif not await repository.own_active_product(session, store.id, target_id):
        raise ValidationFailed(details={"target_id": "must be an active product of your store"})


async def _check_creative_media(
    session: AsyncSession, store_id: uuid.UUID, creatives: Sequence[CreativeIn]
) -> None:
    """Each media must be the store's own media of kind `ads` (400) and uploaded (409 `media not ready`)."""
    wanted = [c.media_id for c in creatives if c.media_id is not None]
    found = await media_repository.media_by_ids(session, wanted)
    problems: dict[str, str] = {}
    not_ready = False
    for index, creative in enumerate(creatives):
        if creative.media_id is None:
            continue
        media = found.get(creative.media_id)
        path = f"creatives.{index}.media_id"
        if media is None:
            problems[path] = "media not found"
        elif media.store_id != store_id:
            problems[path] = "media belongs to different store"
        elif media.kind != "ads":
            problems[path] = "must be media of kind ads"
        elif not media.readable:
            not_ready = True
    if problems:
        raise ValidationFailed(details=problems)
    if not_ready:
        raise Conflict("media not ready")


def _ensure_can_activate(store: Store) -> None:
    if not store.subscription_active:
        raise StateConflict("an active subscription is required to run ads")
    if store.kyc_status != "verified":
        raise StateConflict("verified KYC is required to run ads")


async def _owned(session: AsyncSession, ctx: StoreCtx, ad_id: uuid.UUID, *, lock: bool) -> Ad:
    """The caller's ad; another store's or unknown → 404."""
    ad = await repository.get_ad(session, ad_id, lock=lock)
    if ad is None or ad.store_id != ctx.store_id:
        raise NotFound("ad not found")
    return ad


def _creative_rows(creatives: Sequence[CreativeIn]) -> list[dict[str, Any]]:
    return [c.model_dump(include={"media_id", "destination_url", "headline", "body"}) for c in creatives]


# --- DTOs --------------------------------------------------------------------------------------------


def budget_state(spend_millicents: int | None, ad: Ad) -> BudgetState:
    """`exhausted` when one more impression would not fit today's budget (unknown spend: exhausted)."""
    if spend_millicents is None:
        return "exhausted"
    return (
        "available" if counters.fits(spend_millicents, ad.bid_cents, ad.daily_budget_cents) else "exhausted"
    )


async def _today_spends(redis: Redis, ad_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int] | None:
    try:
        return await counters.spends(redis, ad_ids, utcnow().date())
    except RedisError as exc:
        # Fail closed like serving does: without the counters nothing can be shown as available.
        log.warning("ads.budget_state.redis_unavailable", error=type(exc).__name__)
        return None


def _creative_dto(row: CreativeRow) -> CreativeDTO:
    c = row.creative
    return CreativeDTO(
        id=c.id,
        media_id=c.media_id,
        media_url=row.media_url,
        destination_url=c.destination_url,
        headline=c.headline,
        body=c.body,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


async def _dtos(session: AsyncSession, redis: Redis, ads: Sequence[Ad]) -> list[AdDTO]:
    ids = [a.id for a in ads]
    creatives = await repository.creatives_of(session, ids)
    spends = await _today_spends(redis, ids)
    return [
        AdDTO(
            id=ad.id,
            store_id=ad.store_id,
            status=ad.status,
            placement=ad.placement,
            target_type=ad.target_type,
            target_id=ad.target_id,
            bid_cents=ad.bid_cents,
            daily_budget_cents=ad.daily_budget_cents,
            starts_at=ad.starts_at,
            ends_at=ad.ends_at,
            paused_reason=ad.paused_reason,
            created_at=ad.created_at,
            updated_at=ad.updated_at,
            budget_state=budget_state(None if spends is None else spends.get(ad.id, 0), ad),
            creatives=[_creative_dto(r) for r in creatives[ad.id]],
        )
        for ad in ads
    ]


# --- vendor endpoints --------------------------------------------------------------------------------


async def create_ad(session: AsyncSession, redis: Redis, ctx: StoreCtx, body: AdCreate) -> AdDTO:
    """The ad, its creatives and their media attachments in the caller's transaction."""
    await _check_target(session, ctx.store, body.placement, body.target_type, body.target_id)
    await _check_creative_media(session, ctx.store_id, body.creatives)
    if body.status == "active":
        _ensure_can_activate(ctx.store)
    ad = await repository.insert_ad(
        session,
        {
            "store_id": ctx.store_id,
            **body.model_dump(
                include={
                    "status",
                    "placement",
                    "target_type",
                    "target_id",
                    "bid_cents",
                    "daily_budget_cents",
                    "starts_at",
                    "ends_at",
                }
            ),
        },
    )
    await repository.replace_creatives(session, ad.id, _creative_rows(body.creatives))
    await reconcile(
        session,
        entity_type=ATTACHMENT,
        entity_id=ad.id,
        store_id=ctx.store_id,
        old_media_ids=[],
        new_media_ids=[c.media_id for c in body.creatives],
    )
    log.info("ads.created", ad_id=str(ad.id), store_id=str(ctx.store_id), status=ad.status)
    return (await _dtos(session, redis, [ad]))[0]


async def list_ads(
    session: AsyncSession, redis: Redis, ctx: StoreCtx, filters: AdFilters, page: PageParams
) -> tuple[list[AdDTO], str | None, int]:
    ads, cursor, total = await repository.list_ads(session, ctx.store_id, filters, page)
    return await _dtos(session, redis, ads), cursor, total


async def update_ad(
    session: AsyncSession, redis: Redis, ctx: StoreCtx, ad_id: uuid.UUID, body: AdUpdate
) -> AdDTO:
    """Apply the §2.2 lifecycle and the field changes; creatives are replaced and re-attached."""
    ad = await _owned(session, ctx, ad_id, lock=True)
    if ad.status in READ_ONLY:
        raise StateConflict(f"ad is {ad.status} and read-only")
    sent = body.model_fields_set
    values: dict[str, Any] = {}
    for name in ("bid_cents", "daily_budget_cents", "starts_at", "ends_at"):
        if name in sent:
            values[name] = getattr(body, name)
    starts_at = values.get("starts_at", ad.starts_at)
    ends_at = values.get("ends_at", ad.ends_at)
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise ValidationFailed(details={"ends_at": "must not be before starts_at"})
    if body.creatives is not None:
        await _check_creative_media(session, ctx.store_id, body.creatives)
    if body.status is not None and body.status != ad.status:
        values.update(_transition(ctx.store, ad, body.status))
    if body.creatives is not None:
        old_media = await repository.creative_media_ids(session, ad.id)
        await repository.replace_creatives(session, ad.id, _creative_rows(body.creatives))
        await reconcile(
            session,
            entity_type=ATTACHMENT,
            entity_id=ad.id,
            store_id=ctx.store_id,
            old_media_ids=old_media,
            new_media_ids=[c.media_id for c in body.creatives],
        )
    if values or body.creatives is not None:
        ad = await repository.update_ad(session, ad.id, values)
    return (await _dtos(session, redis, [ad]))[0]


def _transition(store: Store, ad: Ad, target: str) -> dict[str, Any]:
    """The column values of a vendor's status change (§2.2); 422 for any other move."""
    if target == "active" and ad.status in ("draft", "paused"):
        _ensure_can_activate(store)
        log.info("ads.status_changed", ad_id=str(ad.id), status_from=ad.status, status_to="active")
        return {"status": "active", "paused_reason": None}
    if target == "paused" and ad.status == "active":
        log.info("ads.status_changed", ad_id=str(ad.id), status_from=ad.status, status_to="paused")
        return {"status": "paused", "paused_reason": None}
    raise StateConflict(f"an ad cannot go from {ad.status} to {target}")


async def archive_ad(session: AsyncSession, ctx: StoreCtx, ad_id: uuid.UUID) -> None:
    """DELETE: archive (idempotent). The creatives keep their media attached: an archived ad is history."""
    ad = await _owned(session, ctx, ad_id, lock=True)
    if ad.status != "archived":
        await repository.update_ad(session, ad.id, {"status": "archived", "paused_reason": None})
        log.info("ads.status_changed", ad_id=str(ad.id), status_from=ad.status, status_to="archived")


async def pause_for_billing(session: AsyncSession, store_id: uuid.UUID) -> int:
    """Failed ad billing: the store's active ads → paused (`billing_failed`); how many."""
    paused = await repository.pause_active_ads(session, store_id, "billing_failed")
    if paused:
        log.info("ads.paused_for_billing", store_id=str(store_id), ads=paused)
    return paused


async def expire_ended(session: AsyncSession, now: datetime) -> int:
    """Nightly: active/paused ads whose `ends_at` has passed → expired."""
    return await repository.expire_ended(session, now)


# --- analytics (§3.3 ranges, §3.5 metrics) ----------------------------------------------------------


def half_up_cents(millicents: int) -> int:
    return round_half_up(ratio(millicents, 1000))


def _ratio4(numerator: int, denominator: int) -> float:
    if denominator == 0:
        return 0.0
    return float(ratio(numerator, denominator).quantize(Decimal("0.0001")))


def _per(numerator: int, denominator: int) -> int:
    return 0 if denominator == 0 else round_half_up(ratio(numerator, denominator))


async def ad_analytics(
    session: AsyncSession,
    redis: Redis,
    ad: Ad,
    *,
    span: ranges.Range,
    now: datetime,
    warehouse: Warehouse | None = None,
) -> AdAnalytics:
    """Daily UTC series: rollups for closed days, Redis counters for recent days without one, else zero.

    Conversions and revenue come from the analytics warehouse's `conversion` rows (§3.2; 503 when the
    warehouse fails); without a warehouse they read as zero.
    """
    # Ad metrics are daily in UTC (§3.5) over the §3.3 range `[start, end)`.
    first = span.start.astimezone(UTC).date()
    last = (span.end - timedelta(microseconds=1)).astimezone(UTC).date()
    rollups = await repository.rollups_of(session, ad.id, first, last)
    today = now.astimezone(UTC).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    live_days = [d for d in days if d not in rollups and today - timedelta(days=REDIS_DAYS - 1) <= d <= today]
    live: dict[date, counters.DayCounters] = {}
    try:
        for day in live_days:
            live[day] = (await counters.day_counters(redis, [ad.id], day))[ad.id]
    except RedisError as exc:
        log.warning("ads.analytics.redis_unavailable", error=type(exc).__name__)
    converted = (
        await analytics.ad_conversions(session, warehouse, ad.id, span.start, span.end)
        if warehouse is not None
        else {}
    )
    series: list[AdSeriesPoint] = []
    for day in days:
        impressions = clicks = spend = 0
        if day in rollups:
            row = rollups[day]
            impressions, clicks, spend = row.impressions, row.clicks, row.spend_cents
        elif day in live:
            found = live[day]
            impressions, clicks = found.impressions, found.clicks
            spend = min(half_up_cents(found.spend_millicents), ad.daily_budget_cents)
        series.append(
            AdSeriesPoint(
                date=day,
                impressions=impressions,
                clicks=clicks,
                conversions=converted.get(day, (0, 0))[0],
                spend_cents=spend,
                revenue_cents=converted.get(day, (0, 0))[1],
            )
        )
    impressions = sum(p.impressions for p in series)
    clicks = sum(p.clicks for p in series)
    spend = sum(p.spend_cents for p in series)
    revenue = sum(p.revenue_cents for p in series)
    metrics = AdMetrics(
        impressions=impressions,
        clicks=clicks,
        conversions=sum(p.conversions for p in series),
        spend_cents=spend,
        revenue_cents=revenue,
        roas=_ratio4(revenue, spend),
        ctr=_ratio4(clicks, impressions),
        cpc_cents=_per(spend, clicks),
        cpm_cents=_per(spend * 1000, impressions),
    )
    return AdAnalytics(metrics=metrics, series=series)


async def ad_detail(
    session: AsyncSession,
    redis: Redis,
    ctx: StoreCtx,
    ad_id: uuid.UUID,
    *,
    preset: str | None,
    start: str | None,
    end: str | None,
    tz_name: str,
    warehouse: Warehouse | None = None,
) -> AdDetail:
    now = utcnow()
    span = ranges.resolve(tz_name, now, preset, start, end)
    ad = await _owned(session, ctx, ad_id, lock=False)
    dto = (await _dtos(session, redis, [ad]))[0]
    return AdDetail(
        ad=dto,
        analytics=await ad_analytics(session, redis, ad, span=span, now=now, warehouse=warehouse),
    )
