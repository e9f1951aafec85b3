"""Cron job `notification-cleanup`: store and admin notices older than 30 days (identity.md §12.1)."""

from __future__ import annotations

from packfinderz.cron.scheduler import JobContext, job
from packfinderz.models.notifications import AdminNotification, Notification
from packfinderz.notifications import repository

RETENTION_SECONDS = 30 * 86400.0
BATCH = 5000


@job("notification-cleanup")
async def notification_cleanup(ctx: JobContext) -> dict[str, int]:
    """Delete in batches of 5 000, one transaction per batch, until nothing old is left."""
    deleted = 0
    for model in (Notification, AdminNotification):
        while True:
            async with ctx.db.transaction() as session:
                count = await repository.delete_older_than(session, model, RETENTION_SECONDS, BATCH)
            deleted += count
            if count < BATCH:
                break
    return {"deleted": deleted}
