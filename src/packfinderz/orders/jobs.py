"""Cron job `order-ttl` (commerce.md §8.7): expire pending orders after 10 days, nudge them once after 5.

Each order is handled in its own transaction with its row locked and its status re-checked, so two runs
at once (or a buyer acting meanwhile) change nothing twice: expiry happens once, and the automatic
nudge is emitted once thanks to its outbox dedupe key.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.cron.scheduler import JobContext, job
from packfinderz.kit.db import Database
from packfinderz.orders import lifecycle, repository

log = structlog.get_logger("orders")

Step = Callable[[AsyncSession, uuid.UUID, datetime], Awaitable[bool]]


async def _each(db: Database, ids: list[uuid.UUID], step: Step, moment: datetime, done: str) -> Counter[str]:
    """Run one step per order, each in its own transaction; counts of `done`, `skipped` and `failed`."""
    counts: Counter[str] = Counter()
    for order_id in ids:
        try:
            async with db.transaction() as session:
                changed = await step(session, order_id, moment)
        except Exception as exc:
            counts["failed"] += 1
            log.error("order.ttl_failed", order_id=str(order_id), step=done, exc_info=exc)
            continue
        counts[done if changed else "skipped"] += 1
    return counts


async def run_ttl(db: Database, moment: datetime) -> dict[str, int]:
    """Expire, then nudge, as of `moment`. Expiry goes first so an order found past both limits (the job
    was down) is expired, not nudged about."""
    counts: Counter[str] = Counter({"nudged": 0, "expired": 0, "skipped": 0, "failed": 0})
    async with db.transaction() as session:
        due = await repository.pending_older_than(session, moment - lifecycle.EXPIRE_AFTER)
    counts.update(await _each(db, due, lifecycle.expire, moment, "expired"))
    async with db.transaction() as session:
        due = await repository.pending_older_than(session, moment - lifecycle.NUDGE_AFTER, unnudged=True)
    counts.update(await _each(db, due, lifecycle.auto_nudge, moment, "nudged"))
    return dict(counts)


@job("order-ttl")
async def order_ttl(ctx: JobContext) -> dict[str, int]:
    """The daily run (platform.md §12)."""
    return await run_ttl(ctx.db, datetime.now(UTC))
