"""License queries; store-scoped reads take the store id explicitly."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import PageParams, after_cursor_asc, after_cursor_desc, build_page
from packfinderz.models.identity import Store
from packfinderz.models.licenses import License
from packfinderz.models.media import Media


@dataclass(frozen=True)
class AdminLicenseFilters:
    """Filters of GET /api/admin/v1/licenses."""

    status: str | None = None
    store_id: uuid.UUID | None = None
    issuing_state: str | None = None
    type: str | None = None
    sort: Literal["newest", "oldest"] = "newest"  # identity.md §1.4; the review queue asks for oldest


async def insert_license(session: AsyncSession, **values: Any) -> License:
    """Insert a license and return it with its server defaults loaded."""
    license_ = License(**values)
    session.add(license_)
    await session.flush()
    await session.refresh(license_)
    return license_


async def get_license(session: AsyncSession, license_id: uuid.UUID, *, lock: bool = False) -> License | None:
    """A license by id (any store: callers compare its store to the caller's)."""
    query = select(License).where(License.id == license_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def refresh(session: AsyncSession, license_: License) -> License:
    """Reload a license after an UPDATE (updated_at moves)."""
    license_.updated_at = func.now()
    await session.flush()
    await session.refresh(license_)
    return license_


async def delete_license(session: AsyncSession, license_id: uuid.UUID) -> None:
    await session.execute(delete(License).where(License.id == license_id))


async def statuses_of_store(session: AsyncSession, store_id: uuid.UUID) -> set[str]:
    """The distinct statuses of a store's licenses (input of the KYC rule)."""
    return set(await session.scalars(select(License.status).where(License.store_id == store_id).distinct()))


async def lock_store(session: AsyncSession, store_id: uuid.UUID) -> Store | None:
    """The store row FOR UPDATE (KYC changes are serialized per store)."""
    return (await session.scalars(select(Store).where(Store.id == store_id).with_for_update())).one_or_none()


async def set_kyc_status(session: AsyncSession, store: Store, kyc_status: str) -> None:
    """Store a new KYC status on a (locked) store row."""
    store.kyc_status = kyc_status
    store.updated_at = func.now()
    await session.flush()
    await session.refresh(store)


async def document_keys(session: AsyncSession, media_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Media]:
    """The documents of some licenses, by media id (one query for a whole page)."""
    if not media_ids:
        return {}
    return {m.id: m for m in await session.scalars(select(Media).where(Media.id.in_(media_ids)))}


async def store_licenses_page(
    session: AsyncSession, store_id: uuid.UUID, status: str | None, page: PageParams
) -> tuple[list[License], str | None]:
    """The store's licenses, newest first."""
    query = select(License).where(License.store_id == store_id)
    if status is not None:
        query = query.where(License.status == status)
    after = after_cursor_desc(License.created_at, License.id, page.cursor)
    if after is not None:
        query = query.where(after)
    rows = (
        await session.scalars(
            query.order_by(License.created_at.desc(), License.id.desc()).limit(page.limit + 1)
        )
    ).all()
    return build_page(rows, page.limit)


async def admin_licenses_page(
    session: AsyncSession, filters: AdminLicenseFilters, page: PageParams
) -> tuple[list[tuple[License, Store]], str | None, int]:
    """Licenses of every store, newest first (`sort=oldest`: the review queue's order), with their stores
    and the total."""
    conditions = []
    for column, value in (
        (License.status, filters.status),
        (License.store_id, filters.store_id),
        (License.issuing_state, filters.issuing_state),
        (License.type, filters.type),
    ):
        if value is not None:
            conditions.append(column == value)
    total = int(await session.scalar(select(func.count()).select_from(License).where(*conditions)) or 0)
    query = select(License, Store).join(Store, Store.id == License.store_id).where(*conditions)
    if filters.sort == "oldest":
        after = after_cursor_asc(License.created_at, License.id, page.cursor)
        order: tuple[ColumnElement[Any], ...] = (License.created_at.asc(), License.id.asc())
    else:
        after = after_cursor_desc(License.created_at, License.id, page.cursor)
        order = (License.created_at.desc(), License.id.desc())
    if after is not None:
        query = query.where(after)
    query = query.order_by(*order).limit(page.limit + 1)
    rows = [(license_, store) for license_, store in (await session.execute(query)).all()]
    items, cursor = build_page([license_ for license_, _ in rows], page.limit)
    return rows[: len(items)], cursor, total


async def licenses_of_stores(
    session: AsyncSession, store_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[License]]:
    """Every license of some stores, newest first per store (one query)."""
    grouped: dict[uuid.UUID, list[License]] = {store_id: [] for store_id in store_ids}
    if store_ids:
        rows = await session.scalars(
            select(License)
            .where(License.store_id.in_(store_ids))
            .order_by(License.created_at.desc(), License.id.desc())
        )
        for license_ in rows:
            grouped[license_.store_id].append(license_)
    return grouped


# --- lifecycle (cron) ---------------------------------------------------------------------------------


async def ids_to_warn(session: AsyncSession, now: datetime, horizon: datetime) -> list[uuid.UUID]:
    """Verified, not yet warned, expiring in (now, horizon]."""
    return list(
        await session.scalars(
            select(License.id)
            .where(
                License.status == "verified",
                License.expiry_warned_at.is_(None),
                License.expiration_date > now,
                License.expiration_date <= horizon,
            )
            .order_by(License.expiration_date, License.id)
        )
    )


async def ids_to_expire(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Verified licenses whose expiration date has come."""
    return list(
        await session.scalars(
            select(License.id)
            .where(License.status == "verified", License.expiration_date <= now)
            .order_by(License.expiration_date, License.id)
        )
    )


async def ids_to_purge(session: AsyncSession, cutoff: datetime) -> list[uuid.UUID]:
    """Expired licenses whose expiration date is at or before the cutoff."""
    return list(
        await session.scalars(
            select(License.id)
            .where(License.status == "expired", License.expiration_date <= cutoff)
            .order_by(License.expiration_date, License.id)
        )
    )
