"""The per-application identity toolkit (hasher, token signer, session store, rate limiter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from packfinderz.auth.sessions import SessionStore
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.ratelimit import RateLimiter
from packfinderz.kit.security import AccessTokens, Passwords


@dataclass
class Identity:
    """Everything auth needs besides the request's session, built once per application."""

    settings: Settings
    db: Database
    redis: Redis
    passwords: Passwords
    tokens: AccessTokens
    sessions: SessionStore
    limiter: RateLimiter


def build_identity(settings: Settings, db: Database, redis: Redis) -> Identity:
    """An Identity over these connections (the api builds one per app; the CLI its own)."""
    return Identity(
        settings=settings,
        db=db,
        redis=redis,
        passwords=Passwords(settings),
        tokens=AccessTokens(settings),
        sessions=SessionStore(redis, settings.refresh_token_ttl_minutes * 60),
        limiter=RateLimiter(redis),
    )


async def identity_runtime(request: Request) -> Identity:
    """The app's Identity, built on first use from the lifespan's database and Redis."""
    state = request.app.state
    runtime: Identity | None = getattr(state, "identity", None)
    if runtime is None or runtime.redis is not state.redis:
        runtime = build_identity(state.settings, state.db, state.redis)
        state.identity = runtime
    return runtime


IdentityRuntime = Annotated[Identity, Depends(identity_runtime)]
