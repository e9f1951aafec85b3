"""Cron job `pending-media-cleanup` (identity.md §11.5): media left `pending` for 7 days are removed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog

from packfinderz.cron.scheduler import JobContext, job
from packfinderz.kit.db import Database
from packfinderz.media import repository, service

log = structlog.get_logger("media")

PENDING_TTL = timedelta(days=7)


async def _cleanup_one(db: Database, media_id: uuid.UUID, cutoff: datetime) -> int | None:
    """Remove one stale pending media; None when it was confirmed or removed meanwhile."""
    async with db.transaction() as session:
        media = await repository.get_media(session, media_id, lock=True)
        if media is None or media.status != "pending" or media.created_at > cutoff:
            return None
        return await service.remove(session, media, actor=None)


async def cleanup_pending(db: Database, now: datetime) -> dict[str, int]:
    """Delete attachments and rows of media still `pending` 7 days after presign, emitting `media_deleted`
    for each (the worker's media-deletion consumer removes any object); one transaction per media."""
    cutoff = now - PENDING_TTL
    counts = {"media_deleted": 0, "attachments_deleted": 0, "failed": 0}
    async with db.transaction() as session:
        ids = await repository.stale_pending_ids(session, cutoff)
    for media_id in ids:
        try:
            detached = await _cleanup_one(db, media_id, cutoff)
        except Exception as exc:
            counts["failed"] += 1
            log.error("media.pending_cleanup_failed", media_id=str(media_id), exc_info=exc)
            continue
        if detached is not None:
            counts["media_deleted"] += 1
            counts["attachments_deleted"] += detached
    return counts


@job("pending-media-cleanup")
async def pending_media_cleanup(ctx: JobContext) -> dict[str, int]:
    """The daily run (platform.md §12)."""
    return await cleanup_pending(ctx.db, datetime.now(UTC))
