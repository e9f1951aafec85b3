"""Square webhook (money-ads-analytics.md §1.7) and the sandbox time simulation that shares its sync and
charge path (§1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.billing import sync
from packfinderz.billing.provider import BillingProvider
from packfinderz.billing.sandbox import SandboxProvider
from packfinderz.billing.schemas import SubscriptionDTO, subscription_dto
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.errors import AppError, NotFound, ValidationFailed
from packfinderz.models.billing import Subscription

log = structlog.get_logger("billing.webhook")

MAX_BODY_BYTES = 1024 * 1024
PROCESSING_TTL = 300
DONE_TTL = 720 * 3600
SYNC_TYPES = frozenset({"subscription.created", "subscription.updated"})
INVOICE_TYPES = frozenset({"invoice.payment_made", "invoice.scheduled_charge_failed"})


def dedupe_key(event_id: str) -> str:
    return f"pf:idempotency:square-webhook:{event_id}"


def signature_of(key: str, url: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key, url + raw body))."""
    digest = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_valid(key: str, url: str, body: bytes, given: str | None) -> bool:
    if not given or not key:
        return False
    return hmac.compare_digest(signature_of(key, url, body).encode(), given.strip().encode())


def parse_event(body: bytes) -> dict[str, Any]:
    """The event JSON; bad JSON or no `event_id` → 400."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(details={"body": "is not valid JSON"}) from None
    if not isinstance(event, dict) or not isinstance(event.get("event_id"), str) or not event["event_id"]:
        raise ValidationFailed(details={"event_id": "is required"})
    return event


async def sync_subscription(
    db: Database, provider: BillingProvider, settings: Settings, provider_subscription_id: str
) -> sync.SyncResult:
    """Re-fetch the subscription (payloads may be stale or out of order) and save it in one transaction."""
    data = await provider.get_subscription(provider_subscription_id)
    async with db.transaction() as session:
        result = await sync.upsert_subscription(session, data, settings.billing_past_due_grace_days)
    if result.unknown_store:
        log.warning("billing.webhook_unknown_store", provider_object_id=provider_subscription_id)
    return result


async def record_invoice(db: Database, invoice: dict[str, Any], *, paid: bool, at: datetime) -> None:
    async with db.transaction() as session:
        charge = await sync.record_invoice(
            session, invoice, paid=paid, at=at, failure_reason=None if paid else "scheduled charge failed"
        )
    if charge is None:
        log.warning("billing.webhook_unknown_store", provider_object_id=str(invoice.get("id")))


async def dispatch(db: Database, provider: BillingProvider, settings: Settings, event: dict[str, Any]) -> str:
    """Apply one event; returns what was done (`synced`, `charged`, `ignored`)."""
    kind = str(event.get("type") or "")
    data = event.get("data") or {}
    if kind in SYNC_TYPES:
        subscription_id = data.get("id") or ((data.get("object") or {}).get("subscription") or {}).get("id")
        if not subscription_id:
            return "ignored"
        await sync_subscription(db, provider, settings, str(subscription_id))
        return "synced"
    if kind in INVOICE_TYPES:
        invoice = (data.get("object") or {}).get("invoice") or {}
        at = sync.parse_moment(event.get("created_at")) or datetime.now(UTC)
        await record_invoice(db, invoice, paid=kind == "invoice.payment_made", at=at)
        if invoice.get("subscription_id"):
            await sync_subscription(db, provider, settings, str(invoice["subscription_id"]))
        return "charged"
    return "ignored"


async def claim(redis: Redis, event_id: str) -> str | None:
    """SET processing NX; None when claimed, else the existing state (`processing` or `done`)."""
    key = dedupe_key(event_id)
    if await redis.set(key, "processing", nx=True, ex=PROCESSING_TTL):
        return None
    state = await redis.get(key)
    if state is None:
        return await claim(redis, event_id)
    return state.decode() if isinstance(state, bytes) else str(state)


async def finish(redis: Redis, event_id: str, ok: bool) -> None:
    if ok:
        await redis.set(dedupe_key(event_id), "done", ex=DONE_TTL)
    else:
        await redis.delete(dedupe_key(event_id))


# --- sandbox time simulation -----------------------------------------------------------------------


async def simulate(
    session: AsyncSession,
    provider: BillingProvider,
    *,
    settings: Settings,
    subscription_ref: str,
    event: str,
) -> SubscriptionDTO:
    """Advance a sandbox subscription, then run the webhook's charge and sync path."""
    if not isinstance(provider, SandboxProvider):
        raise NotFound("not found")
    query = select(Subscription)
    try:
        query = query.where(Subscription.id == uuid.UUID(subscription_ref))
    except ValueError:
        query = query.where(Subscription.provider_subscription_id == subscription_ref)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound("subscription not found")
    provider_id = row.provider_subscription_id
    data, invoice = await provider.simulate(provider_id, event)
    now = datetime.now(UTC)
    if invoice is not None:
        await sync.record_invoice(
            session,
            invoice,
            paid=event == "renew",
            at=now,
            failure_reason=None if event == "renew" else "card declined",
        )
    result = await sync.upsert_subscription(session, data, settings.billing_past_due_grace_days)
    assert result.subscription is not None
    return subscription_dto(result.subscription)


async def handle(
    db: Database, redis: Redis, provider: BillingProvider, settings: Settings, event: dict[str, Any]
) -> tuple[int, str]:
    """Dedupe and dispatch one verified event: (status, outcome)."""
    event_id = str(event["event_id"])
    state = await claim(redis, event_id)
    if state == "done":
        return 200, "duplicate"
    if state is not None:
        return 409, "in_progress"
    try:
        outcome = await dispatch(db, provider, settings, event)
    except AppError as exc:
        await finish(redis, event_id, ok=False)
        log.error("billing.webhook_failed", event_id=event_id, event_type=event.get("type"), code=exc.code)
        return 503, "failed"
    except Exception as exc:
        await finish(redis, event_id, ok=False)
        log.error("billing.webhook_failed", event_id=event_id, event_type=event.get("type"), exc_info=exc)
        return 503, "failed"
    await finish(redis, event_id, ok=True)
    log.info("billing.webhook_processed", event_id=event_id, event_type=event.get("type"), outcome=outcome)
    return 200, outcome
