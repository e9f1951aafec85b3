"""Redis client factory (sessions, idempotency, locks, heartbeats, streams)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from packfinderz.config import Settings


def create_redis(settings: Settings, url: str | None = None, *, socket_timeout: float | None = None) -> Redis:
    """A pooled asyncio Redis client for the configured URL (TLS verification per REDIS_TLS_VERIFY)."""
    target = url or settings.redis_connection_url
    if target is None:
        raise RuntimeError("no Redis configured")
    options: dict[str, Any] = {
        "max_connections": settings.redis_max_connections,
        "socket_connect_timeout": settings.redis_connect_timeout,
        "socket_timeout": socket_timeout if socket_timeout is not None else settings.redis_socket_timeout,
        "decode_responses": True,
        "health_check_interval": 30,
    }
    if target.startswith("rediss://") and not settings.redis_tls_verify:
        options["ssl_cert_reqs"] = "none"
    return Redis.from_url(target, **options)
