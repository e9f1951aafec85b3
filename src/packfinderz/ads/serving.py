"""Serving and tracking (money-ads-analytics.md §2.4-§2.6): one winner per request, counted in Redis.

Budgets are never overspent: serve skips an ad whose next impression would not fit today's budget, and
the impression script (ads/counters.py) counts only while it fits, atomically, whatever the number of
api processes. Redis trouble fails closed: nothing is served or counted. Tokens are never logged.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.ads import counters, repository, tokens
from packfinderz.ads.repository import Candidate
from packfinderz.ads.schemas import ServedAd, ServedCreative
from packfinderz.auth.deps import StoreCtx
from packfinderz.config import Settings
from packfinderz.kit.errors import DependencyError, ValidationFailed
from packfinderz.models.ads import Ad, AdCreative

log = structlog.get_logger("ads")

ADS_SERVE = Counter("packfinderz_ads_serve_total", "Ad serve requests by result", ["placement", "result"])
ADS_TRACKING = Counter("packfinderz_ads_tracking_total", "Ad tracking calls by result", ["kind", "result"])
FRESH_FOR = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def tie_break(request_id: str, placement: str, day: str, ad_id: uuid.UUID) -> int:
    """uint64 of the first 8 bytes of sha256("request_id|placement|day|ad_id"); the lowest wins a tie."""
    digest = hashlib.sha256(f"{request_id}|{placement}|{day}|{ad_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def pick(
    candidates: list[Candidate], spends: dict[uuid.UUID, int], request_id: str, placement: str, day: str
) -> Candidate | None:
    """The highest bid among the ads whose next impression fits; ties by the request's hash."""
    fitting = [
        c for c in candidates if counters.fits(spends.get(c.ad_id, 0), c.bid_cents, c.daily_budget_cents)
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda c: (-c.bid_cents, tie_break(request_id, placement, day, c.ad_id)))


def _mint_pair(
    settings: Settings,
    *,
    winner: Candidate,
    creative: AdCreative,
    buyer_id: uuid.UUID,
    request_id: str,
    now: datetime,
) -> tuple[str, str]:
    secret = settings.effective_ads_token_secret
    expires = now + timedelta(days=settings.ads_token_ttl_days)
    common = {
        "ad_id": winner.ad_id,
        "creative_id": creative.id,
        "placement": winner.placement,
        "target_type": winner.target_type,
        "target_id": winner.target_id,
        "buyer_store_id": buyer_id,
        "occurred_at": now,
        "expires_at": expires,
        "request_id": request_id,
        "bid_cents": winner.bid_cents,
        "destination_url": creative.destination_url,
    }
    view = tokens.mint(secret, {**common, "token_id": uuid.uuid4(), "event_type": "impression"})
    click = tokens.mint(secret, {**common, "token_id": uuid.uuid4(), "event_type": "click"})
    return view, click


async def serve(
    session: AsyncSession, redis: Redis, settings: Settings, ctx: StoreCtx, placement: str
) -> ServedAd | None:
    """The winning ad of this placement for the buyer, or None (nothing fits, or Redis is down)."""
    now = utcnow()
    request_id = str(uuid.uuid4())
    day = now.date()
    candidates = await repository.serve_candidates(session, placement, ctx.store, now)
    if not candidates:
        ADS_SERVE.labels(placement, "empty").inc()
        return None
    try:
        spends = await counters.spends(redis, [c.ad_id for c in candidates], day)
    except RedisError as exc:
        ADS_SERVE.labels(placement, "redis_unavailable").inc()
        log.warning("ads.serve.redis_unavailable", placement=placement, error=type(exc).__name__)
        return None
    winner = pick(candidates, spends, request_id, placement, counters.day_key(day))
    first = await repository.first_creative(session, winner.ad_id) if winner is not None else None
    if winner is None or first is None:  # no creative: its last one went in a concurrent PATCH
        ADS_SERVE.labels(placement, "empty").inc()
        return None
    creative = first.creative
    view, click = _mint_pair(
        settings, winner=winner, creative=creative, buyer_id=ctx.store_id, request_id=request_id, now=now
    )
    ADS_SERVE.labels(placement, "filled").inc()
    return ServedAd(
        ad_id=winner.ad_id,
        placement=winner.placement,
        target_type=winner.target_type,
        target_id=winner.target_id,
        creative=ServedCreative(
            id=creative.id,
            media_url=first.media_url,
            destination_url=creative.destination_url,
            headline=creative.headline,
            body=creative.body,
        ),
        request_id=request_id,
        view_token=view,
        click_token=click,
    )


def _invalid() -> ValidationFailed:
    return ValidationFailed("invalid ad token")


def _checked(raw: str, settings: Settings, ctx: StoreCtx, event_type: str, request_id: str) -> tokens.AdToken:
    """Steps 1 of §2.6: a valid token of this type, this request and this buyer; 400 otherwise."""
    try:
        token = tokens.parse(raw, settings.effective_ads_token_secret)
    except tokens.InvalidAdToken:
        raise _invalid() from None
    if (
        token.event_type != event_type
        or token.request_id != request_id
        or token.buyer_store_id != ctx.store_id
    ):
        raise _invalid()
    return token


def _live(ad: Ad | None, now: datetime) -> bool:
    """Whether the ad still runs: active and inside its window."""
    if ad is None or ad.status != "active":
        return False
    if ad.starts_at is not None and ad.starts_at > now:
        return False
    return ad.ends_at is None or ad.ends_at >= now


def _track(kind: str, result: str, token: tokens.AdToken) -> str:
    ADS_TRACKING.labels(kind, result).inc()
    log.info("ads.tracked", kind=kind, result=result, ad_id=str(token.ad_id))
    return result


async def impression(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    ctx: StoreCtx,
    *,
    view_token: str,
    request_id: str,
) -> str:
    """Count a served ad's impression (or say why not): counted|duplicate|over_budget|stale|rejected."""
    token = _checked(view_token, settings, ctx, "impression", request_id)
    now = utcnow()
    if now - token.occurred_at > FRESH_FOR:
        return _track("impression", "stale", token)
    ad = await repository.get_ad(session, token.ad_id)
    if not _live(ad, now):
        return _track("impression", "rejected", token)
    assert ad is not None
    try:
        result = await counters.record_impression(
            redis,
            request_id=token.request_id,
            ad_id=ad.id,
            placement=token.placement,
            bid_cents=token.bid_cents,  # the bid that won this serve
            daily_budget_cents=ad.daily_budget_cents,
            day=now.date(),
        )
    except RedisError as exc:
        log.warning("ads.impression.redis_unavailable", ad_id=str(ad.id), error=type(exc).__name__)
        raise DependencyError("redis") from None
    return _track("impression", result, token)


async def click(
    session: AsyncSession, redis: Redis, settings: Settings, ctx: StoreCtx, *, raw: str, request_id: str
) -> tuple[str, str]:
    """Count a click once per request while fresh; the destination to redirect to, and the result.

    Redis trouble still redirects (the buyer wanted to go there) and counts nothing.
    """
    token = _checked(raw, settings, ctx, "click", request_id)
    now = utcnow()
    if now - token.occurred_at > FRESH_FOR:
        return token.destination_url, _track("click", "stale", token)
    ad = await repository.get_ad(session, token.ad_id)
    if not _live(ad, now):
        return token.destination_url, _track("click", "rejected", token)
    try:
        counted = await counters.record_click(
            redis, request_id=token.request_id, ad_id=token.ad_id, day=now.date()
        )
    except RedisError as exc:
        log.warning("ads.click.redis_unavailable", ad_id=str(token.ad_id), error=type(exc).__name__)
        return token.destination_url, "redis_unavailable"
    return token.destination_url, _track("click", "counted" if counted else "duplicate", token)
