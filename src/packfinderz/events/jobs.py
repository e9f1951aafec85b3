"""Cron job `outbox-retention` (platform.md §9.7)."""

from __future__ import annotations

from packfinderz.cron.scheduler import JobContext, job
from packfinderz.events import repository

BATCH = 5000


@job("outbox-retention")
async def outbox_retention(ctx: JobContext) -> dict[str, int]:
    """Delete published rows after OUTBOX_RETENTION, and dead-lettered ones with their DLQ rows after
    OUTBOX_DLQ_RETENTION, in batches of 5 000 (one transaction each)."""
    counts = {"published_deleted": 0, "dlq_deleted": 0}
    steps = (
        ("published_deleted", repository.delete_published_batch, ctx.settings.outbox_retention),
        ("dlq_deleted", repository.delete_failed_batch, ctx.settings.outbox_dlq_retention),
    )
    for name, step, age in steps:
        while True:
            async with ctx.db.transaction() as session:
                count = await step(session, age, BATCH)
            counts[name] += count
            if count < BATCH:
                break
    return counts
