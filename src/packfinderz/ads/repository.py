"""Ad SQL: ads and creatives, serving candidates behind the visibility gate, rollups, lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import PageParams, after_cursor_desc, build_page
from packfinderz.models.ads import Ad, AdCreative, AdDailyRollup
from packfinderz.models.catalog import Product
from packfinderz.models.identity import Store
from packfinderz.models.media import READABLE_STATUSES, Media

CANDIDATE_LIMIT = 20


async def insert_ad(session: AsyncSession, values: dict[str, Any]) -> Ad:
    return (await session.scalars(insert(Ad).values(**values).returning(Ad))).one()


async def get_ad(session: AsyncSession, ad_id: uuid.UUID, *, lock: bool = False) -> Ad | None:
    """An ad by id, re-read from the database (FOR UPDATE with `lock`)."""
    query = select(Ad).where(Ad.id == ad_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def update_ad(session: AsyncSession, ad_id: uuid.UUID, values: dict[str, Any]) -> Ad:
    query = (
        update(Ad)
        .where(Ad.id == ad_id)
        .values(**values, updated_at=func.now())
        .returning(Ad)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    return (await session.scalars(query)).one()


@dataclass(frozen=True)
class CreativeRow:
    """A creative with the public URL of its media (null unless the media is readable)."""

    creative: AdCreative
    media_url: str | None


async def creatives_of(
    session: AsyncSession, ad_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CreativeRow]]:
    """Each ad's creatives by `created_at, id`, in one query."""
    found: dict[uuid.UUID, list[CreativeRow]] = {a: [] for a in ad_ids}
    if not ad_ids:
        return found
    url = func.nullif(Media.public_url, "").label("url")
    rows = await session.execute(
        select(AdCreative, Media.status, url)
        .outerjoin(Media, Media.id == AdCreative.media_id)
        .where(AdCreative.ad_id.in_(ad_ids))
        .order_by(AdCreative.ad_id, AdCreative.created_at, AdCreative.id)
    )
    for creative, status, public_url in rows:
        readable = status in READABLE_STATUSES
        found[creative.ad_id].append(CreativeRow(creative, public_url if readable else None))
    return found


async def replace_creatives(session: AsyncSession, ad_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Delete the ad's creatives and insert these (in order, one microsecond apart so the order holds)."""
    await session.execute(delete(AdCreative).where(AdCreative.ad_id == ad_id))
    now = await session.scalar(select(func.clock_timestamp()))
    assert now is not None
    values = [
        {**row, "ad_id": ad_id, "created_at": now + timedelta(microseconds=i), "updated_at": now}
        for i, row in enumerate(rows)
    ]
    await session.execute(insert(AdCreative), values)


async def creative_media_ids(session: AsyncSession, ad_id: uuid.UUID) -> list[uuid.UUID | None]:
    return list(await session.scalars(select(AdCreative.media_id).where(AdCreative.ad_id == ad_id)))


@dataclass(frozen=True)
class AdFilters:
    status: str | None = None
    placement: str | None = None
    target_type: str | None = None
    target_id: uuid.UUID | None = None


async def list_ads(
    session: AsyncSession, store_id: uuid.UUID, filters: AdFilters, page: PageParams
) -> tuple[list[Ad], str | None, int]:
    """One page of the store's ads (newest first) and the size of the whole filtered set."""
    conditions = [Ad.store_id == store_id]
    for name in ("status", "placement", "target_type", "target_id"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(Ad, name) == value)
    total = int(await session.scalar(select(func.count()).select_from(Ad).where(*conditions)) or 0)
    query = select(Ad).where(*conditions)
    after = after_cursor_desc(Ad.created_at, Ad.id, page.cursor)
    if after is not None:
        query = query.where(after)
    rows = (
        await session.scalars(query.order_by(Ad.created_at.desc(), Ad.id.desc()).limit(page.limit + 1))
    ).all()
    items, cursor = build_page(rows, page.limit)
    return items, cursor, total


async def own_active_product(session: AsyncSession, store_id: uuid.UUID, product_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(literal(1)).where(Product.id == product_id, Product.store_id == store_id, Product.is_active)
    )
    return found is not None


# --- serving -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An active ad of the placement, with at least one creative, whose vendor passed the gate."""

    ad_id: uuid.UUID
    placement: str
    target_type: str
    target_id: uuid.UUID
    bid_cents: int
    daily_budget_cents: int


def _candidates_statement() -> Any:
    now = bindparam("now", type_=DateTime(timezone=True))
    lat, lng = bindparam("lat", type_=Float), bindparam("lng", type_=Float)
    has_creative = select(literal(1)).where(AdCreative.ad_id == Ad.id).exists()
    return (
        select(Ad.id, Ad.placement, Ad.target_type, Ad.target_id, Ad.bid_cents, Ad.daily_budget_cents)
        .join(Store, Store.id == Ad.store_id)
        .outerjoin(Product, and_(Ad.target_type == "product", Product.id == Ad.target_id))
        .where(
            Ad.status == "active",
            Ad.placement == bindparam("placement"),
            or_(Ad.starts_at.is_(None), Ad.starts_at <= now),
            or_(Ad.ends_at.is_(None), Ad.ends_at >= now),
            or_(Ad.target_type != "product", and_(Product.is_active, Product.store_id == Ad.store_id)),
            has_creative,
            # The vendor visibility gate of commerce.md §3, with the buyer's own state and position.
            Store.type == "vendor",
            Store.kyc_status == "verified",
            Store.subscription_active,
            Store.address_state == bindparam("state"),
            or_(
                Store.delivery_radius_meters == 0,
                func.pf_distance_m(Store.lat, Store.lng, lat, lng, type_=Float)
                <= Store.delivery_radius_meters,
            ),
        )
        .order_by(Ad.bid_cents.desc(), Ad.created_at.desc())
        .limit(CANDIDATE_LIMIT)
    )


_CANDIDATES = _candidates_statement()


async def serve_candidates(
    session: AsyncSession, placement: str, buyer: Store, now: datetime
) -> list[Candidate]:
    """At most 20 servable ads of the placement for this buyer, `bid_cents DESC, created_at DESC`."""
    rows = await session.execute(
        _CANDIDATES,
        {
            "placement": placement,
            "now": now,
            "state": buyer.address_state,
            "lat": buyer.lat,
            "lng": buyer.lng,
        },
    )
    return [Candidate(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


async def first_creative(session: AsyncSession, ad_id: uuid.UUID) -> CreativeRow | None:
    """The ad's first creative (by `created_at, id`) with its media URL; the one a serve shows."""
    row = (
        await session.execute(
            select(AdCreative, Media.status, func.nullif(Media.public_url, ""))
            .outerjoin(Media, Media.id == AdCreative.media_id)
            .where(AdCreative.ad_id == ad_id)
            .order_by(AdCreative.created_at, AdCreative.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    creative, status, url = row
    return CreativeRow(creative, url if status in READABLE_STATUSES else None)


# --- lifecycle from jobs and billing ------------------------------------------------------------------


async def pause_active_ads(session: AsyncSession, store_id: uuid.UUID, reason: str) -> int:
    """Pause every active ad of the store with a reason; how many were paused."""
    result = await session.execute(
        update(Ad)
        .where(Ad.store_id == store_id, Ad.status == "active")
        .values(status="paused", paused_reason=reason, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def expire_ended(session: AsyncSession, now: datetime) -> int:
    """Active or paused ads whose window ended → expired; how many."""
    result = await session.execute(
        update(Ad)
        .where(Ad.status.in_(("active", "paused")), Ad.ends_at < now)
        .values(status="expired", updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class RollupAd:
    ad_id: uuid.UUID
    store_id: uuid.UUID
    daily_budget_cents: int


async def ads_overlapping(session: AsyncSession, start: datetime, end: datetime) -> list[RollupAd]:
    """Ads not in draft whose window overlaps [start, end) (archived and expired included)."""
    rows = await session.execute(
        select(Ad.id, Ad.store_id, Ad.daily_budget_cents)
        .where(
            Ad.status != "draft",
            or_(Ad.starts_at.is_(None), Ad.starts_at < end),
            or_(Ad.ends_at.is_(None), Ad.ends_at >= start),
        )
        .order_by(Ad.store_id, Ad.id)
    )
    return [RollupAd(r.id, r.store_id, r.daily_budget_cents) for r in rows]


async def upsert_rollups(session: AsyncSession, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert or update rollup rows, touching a row only when a value differs; the rows written."""
    if not rows:
        return []
    insert_rows = pg_insert(AdDailyRollup).values(rows)
    excluded = insert_rows.excluded
    columns = ("impressions", "clicks", "spend_millicents", "spend_cents")
    statement = insert_rows.on_conflict_do_update(
        index_elements=[AdDailyRollup.ad_id, AdDailyRollup.day],
        set_={**{c: getattr(excluded, c) for c in columns}, "updated_at": func.now()},
        where=or_(*(getattr(AdDailyRollup, c) != getattr(excluded, c) for c in columns)),
    ).returning(
        AdDailyRollup.ad_id,
        AdDailyRollup.vendor_store_id,
        AdDailyRollup.day,
        AdDailyRollup.impressions,
        AdDailyRollup.clicks,
        AdDailyRollup.spend_cents,
    )
    result = await session.execute(statement)
    return [dict(r._mapping) for r in result]


async def store_day_totals(session: AsyncSession, store_id: uuid.UUID, day: date) -> tuple[int, int]:
    """(Σ impressions, Σ spend_cents) of the store's rollups of the day."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(AdDailyRollup.impressions), 0),
                func.coalesce(func.sum(AdDailyRollup.spend_cents), 0),
            ).where(AdDailyRollup.vendor_store_id == store_id, AdDailyRollup.day == day)
        )
    ).one()
    return int(row[0]), int(row[1])


async def rollups_of(
    session: AsyncSession, ad_id: uuid.UUID, first: date, last: date
) -> dict[date, AdDailyRollup]:
    rows = await session.scalars(
        select(AdDailyRollup).where(AdDailyRollup.ad_id == ad_id, AdDailyRollup.day.between(first, last))
    )
    return {r.day: r for r in rows}
