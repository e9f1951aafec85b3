"""Cron job `license-lifecycle` (identity.md §10.6): warn, expire, purge; one transaction per license."""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import service as audit
from packfinderz.cron.scheduler import JobContext, job
from packfinderz.events.outbox import emit
from packfinderz.events.registry import LicenseExpired, LicenseExpiringSoon
from packfinderz.kit.db import Database
from packfinderz.licenses import repository
from packfinderz.licenses.kyc import recompute_kyc
from packfinderz.media import repository as media_repository
from packfinderz.media import service as media_service

log = structlog.get_logger("licenses")

WARN_AHEAD = timedelta(days=14)
PURGE_AFTER = timedelta(days=30)
DAY_SECONDS = 86400


async def _warn(session: AsyncSession, license_id: uuid.UUID, now: datetime) -> bool:
    license_ = await repository.get_license(session, license_id, lock=True)
    if (
        license_ is None
        or license_.status != "verified"
        or license_.expiry_warned_at is not None
        or license_.expiration_date is None
        or not now < license_.expiration_date <= now + WARN_AHEAD
    ):
        return False
    license_.expiry_warned_at = now
    await repository.refresh(session, license_)
    days_left = math.ceil((license_.expiration_date - now).total_seconds() / DAY_SECONDS)
    await emit(
        session,
        LicenseExpiringSoon(
            license_id=license_.id,
            store_id=license_.store_id,
            expiration_date=license_.expiration_date.date(),
            days_until_expiration=days_left,
        ),
    )
    return True


async def _expire(session: AsyncSession, license_id: uuid.UUID, now: datetime) -> bool:
    license_ = await repository.get_license(session, license_id, lock=True)
    if (
        license_ is None
        or license_.status != "verified"
        or license_.expiration_date is None
        or license_.expiration_date > now
    ):
        return False
    license_.status = "expired"
    await repository.refresh(session, license_)
    kyc = await recompute_kyc(session, license_.store_id)
    await emit(
        session,
        LicenseExpired(
            license_id=license_.id,
            store_id=license_.store_id,
            expiration_date=license_.expiration_date.date(),
            expired_at=now,
        ),
    )
    await audit.record(
        session,
        action="license.expired",
        target_type="license",
        target_id=license_.id,
        payload={"number": license_.number, "status": "expired", "kyc_status_after": kyc},
    )
    return True


async def _purge(session: AsyncSession, license_id: uuid.UUID, now: datetime) -> bool:
    license_ = await repository.get_license(session, license_id, lock=True)
    if (
        license_ is None
        or license_.status != "expired"
        or license_.expiration_date is None
        or license_.expiration_date > now - PURGE_AFTER
    ):
        return False
    document = await media_repository.get_media(session, license_.media_id, lock=True)
    # The license goes first: its row references the document, which remove() then deletes with
    # every attachment and announces with `media_deleted` (the worker deletes the object).
    await repository.delete_license(session, license_.id)
    if document is not None:
        await media_service.remove(session, document, actor=None)
    kyc = await recompute_kyc(session, license_.store_id)
    await audit.record(
        session,
        action="license.purged",
        target_type="license",
        target_id=license_.id,
        payload={"number": license_.number, "status": "expired", "kyc_status_after": kyc},
    )
    return True


Step = Callable[[AsyncSession, uuid.UUID, datetime], Awaitable[bool]]
Finder = Callable[[AsyncSession, datetime], Awaitable[list[uuid.UUID]]]

STEPS: tuple[tuple[str, Finder, Step], ...] = (
    ("warned", lambda s, now: repository.ids_to_warn(s, now, now + WARN_AHEAD), _warn),
    ("expired", repository.ids_to_expire, _expire),
    ("purged", lambda s, now: repository.ids_to_purge(s, now - PURGE_AFTER), _purge),
)


async def run_lifecycle(db: Database, now: datetime) -> dict[str, int]:
    """Warn, expire, then purge as of `now`: each license in its own transaction with its row locked and
    its condition re-checked; a failing license is logged, counted and skipped."""
    counts = {"warned": 0, "expired": 0, "purged": 0, "failed": 0}
    for action, find, step in STEPS:
        async with db.transaction() as session:
            ids = await find(session, now)
        for license_id in ids:
            try:
                async with db.transaction() as session:
                    done = await step(session, license_id, now)
            except Exception as exc:
                counts["failed"] += 1
                log.error("license.lifecycle_failed", license_id=str(license_id), step=action, exc_info=exc)
                continue
            counts[action] += int(done)
    return counts


@job("license-lifecycle")
async def license_lifecycle(ctx: JobContext) -> dict[str, int]:
    """The daily run (platform.md §12)."""
    return await run_lifecycle(ctx.db, datetime.now(UTC))
