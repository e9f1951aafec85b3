"""Media and attachment queries; store-scoped reads take the store id explicitly."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.db import like_pattern
from packfinderz.kit.pagination import PageParams, after_cursor_desc, build_page
from packfinderz.models.catalog import Product, ProductMedia
from packfinderz.models.identity import Store
from packfinderz.models.media import Media, MediaAttachment


@dataclass(frozen=True)
class MediaFilters:
    """Filters of GET /api/v1/media."""

    kind: str | None = None
    status: str | None = None
    mime_type: str | None = None
    search: str | None = None


async def insert_media(session: AsyncSession, **values: Any) -> Media:
    """Insert a media row and return it with its server defaults loaded."""
    media = Media(**values)
    session.add(media)
    await session.flush()
    await session.refresh(media)
    return media


async def save_media(session: AsyncSession, media: Media) -> Media:
    """Write a changed media row and reload it (updated_at moves)."""
    await session.flush()
    await session.refresh(media)
    return media


async def get_media(session: AsyncSession, media_id: uuid.UUID, *, lock: bool = False) -> Media | None:
    """A media row by id (any store: callers compare its store to the caller's)."""
    query = select(Media).where(Media.id == media_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def get_by_key(session: AsyncSession, storage_key: str, *, lock: bool = False) -> Media | None:
    """The media row owning a storage key."""
    query = select(Media).where(Media.storage_key == storage_key)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def media_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Media]:
    """Media rows by id (missing ids are absent)."""
    if not ids:
        return {}
    rows = await session.scalars(select(Media).where(Media.id.in_(ids)))
    return {m.id: m for m in rows}


async def list_media(
    session: AsyncSession, store_id: uuid.UUID, filters: MediaFilters, page: PageParams
) -> tuple[list[Media], str | None, int]:
    """One page of the store's media, newest first, and the size of the whole filtered set."""
    conditions = [Media.store_id == store_id]
    if filters.kind is not None:
        conditions.append(Media.kind == filters.kind)
    if filters.status is not None:
        conditions.append(Media.status == filters.status)
    if filters.mime_type is not None:
        conditions.append(Media.mime_type == filters.mime_type)
    if filters.search:
        conditions.append(Media.file_name.ilike(like_pattern(filters.search), escape="\\"))
    total = int(await session.scalar(select(func.count()).select_from(Media).where(*conditions)) or 0)
    query = select(Media).where(*conditions)
    after = after_cursor_desc(Media.created_at, Media.id, page.cursor)
    if after is not None:
        query = query.where(after)
    rows = (
        await session.scalars(query.order_by(Media.created_at.desc(), Media.id.desc()).limit(page.limit + 1))
    ).all()
    items, cursor = build_page(rows, page.limit)
    return items, cursor, total


async def attachment_types(session: AsyncSession, media_id: uuid.UUID) -> set[str]:
    """The entity types a media is attached to."""
    rows = await session.scalars(
        select(MediaAttachment.entity_type).where(MediaAttachment.media_id == media_id).distinct()
    )
    return set(rows)


async def insert_attachments(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert attachment rows (an existing one is left as is: attachments are never updated)."""
    if rows:
        await session.execute(insert(MediaAttachment).values(rows).on_conflict_do_nothing())


async def delete_attachments(
    session: AsyncSession, entity_type: str, entity_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> None:
    """Remove an entity's attachments to these media."""
    if media_ids:
        await session.execute(
            delete(MediaAttachment).where(
                MediaAttachment.entity_type == entity_type,
                MediaAttachment.entity_id == entity_id,
                MediaAttachment.media_id.in_(media_ids),
            )
        )


async def detach_everywhere(session: AsyncSession, media_id: uuid.UUID) -> int:
    """Clear every use of a media (store logo/banner, product gallery row, product COA) and delete its
    attachment rows; returns how many attachment rows were deleted."""
    for id_column, url_column in (("logo_media_id", "logo_url"), ("banner_media_id", "banner_url")):
        await session.execute(
            update(Store)
            .where(getattr(Store, id_column) == media_id)
            .values({id_column: None, url_column: None, "updated_at": func.now()})
        )
    await session.execute(delete(ProductMedia).where(ProductMedia.media_id == media_id))
    await session.execute(
        update(Product)
        .where(Product.coa_media_id == media_id)
        .values(coa_media_id=None, updated_at=func.now())
    )
    result = await session.execute(delete(MediaAttachment).where(MediaAttachment.media_id == media_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_media(session: AsyncSession, media_id: uuid.UUID) -> None:
    await session.execute(delete(Media).where(Media.id == media_id))


async def stale_pending_ids(session: AsyncSession, created_before: datetime) -> list[uuid.UUID]:
    """Ids of media still `pending` that were presigned before the given time, oldest first."""
    rows = await session.scalars(
        select(Media.id)
        .where(Media.status == "pending", Media.created_at <= created_before)
        .order_by(Media.created_at, Media.id)
    )
    return list(rows)
