"""Dependencies for the clients the app's lifespan keeps on `app.state` (coroutines: see the routes test)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from packfinderz.config import Settings


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


AppSettings = Annotated[Settings, Depends(_settings)]
AppRedis = Annotated[Redis, Depends(_redis)]
