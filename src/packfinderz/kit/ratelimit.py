"""Fixed-window rate limits by client IP and by normalized email (identity.md §6.4)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from packfinderz.config import Settings
from packfinderz.kit.errors import DependencyError, RateLimited

log = structlog.get_logger("ratelimit")

RATE_LIMIT_BLOCKS = Counter(
    "packfinderz_rate_limit_blocks_total", "Requests refused by a rate limit", ["policy", "scope"]
)

PolicyName = Literal["login", "register"]
# Set on a FastAPI dependency that may answer 429: the OpenAPI post-processor (kit/openapi.py) declares
# 429 with Retry-After on every route whose dependency tree holds one.
RATE_LIMIT_MARK = "__packfinderz_rate_limit__"
Dependency = TypeVar("Dependency", bound=Callable[..., Any])


def rate_limit_dependency(name: PolicyName) -> Callable[[Dependency], Dependency]:
    """Mark a dependency as enforcing the `name` rate limit (documented as 429 + Retry-After)."""

    def mark(dependency: Dependency) -> Dependency:
        setattr(dependency, RATE_LIMIT_MARK, name)
        return dependency

    return mark


@dataclass(frozen=True)
class Policy:
    """A named fixed window with per-IP and per-email limits (a limit <= 0 turns that dimension off)."""

    name: PolicyName
    window_seconds: float
    ip_limit: int
    email_limit: int

    @property
    def enabled(self) -> bool:
        return self.window_seconds > 0 and (self.ip_limit > 0 or self.email_limit > 0)


def policy(settings: Settings, name: PolicyName) -> Policy:
    """The configured `login` or `register` policy."""
    if name == "login":
        return Policy(
            "login",
            settings.auth_rate_limit_login_window,
            settings.auth_rate_limit_login_ip_limit,
            settings.auth_rate_limit_login_email_limit,
        )
    return Policy(
        "register",
        settings.auth_rate_limit_register_window,
        settings.auth_rate_limit_register_ip_limit,
        settings.auth_rate_limit_register_email_limit,
    )


def email_hash(email: str) -> str:
    """sha256 hex of the trimmed, lower-cased email (the only form in which emails reach keys and logs)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class RateLimiter:
    """Counts hits in Redis (`rl:ip:<policy>:<ip>`, `rl:email:<policy>:<sha256>`) and refuses the excess."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def hit_ip(self, rule: Policy, ip: str | None) -> None:
        """Count one attempt from this IP; 429 over the limit, 503 when Redis fails."""
        if not rule.enabled or rule.ip_limit <= 0 or not ip:
            return
        await self._hit(rule, "ip", f"rl:ip:{rule.name}:{ip}", rule.ip_limit, {"ip": ip})

    async def hit_email(self, rule: Policy, email: str) -> None:
        """Count one attempt for this email; 429 over the limit, 503 when Redis fails."""
        if not rule.enabled or rule.email_limit <= 0:
            return
        digest = email_hash(email)
        await self._hit(
            rule, "email", f"rl:email:{rule.name}:{digest}", rule.email_limit, {"email_hash": digest}
        )

    async def _hit(self, rule: Policy, scope: str, key: str, limit: int, who: dict[str, str]) -> None:
        window_ms = max(int(rule.window_seconds * 1000), 1)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                # The window starts with the first hit; creating the key with its TTL in the same MULTI
                # as the INCR means a counter can never be left without an expiry.
                pipe.set(key, 0, px=window_ms, nx=True)
                pipe.incr(key)
                pipe.pttl(key)
                _, attempts, ttl_ms = await pipe.execute()
        except RedisError:
            raise DependencyError("redis") from None
        if attempts <= limit:
            return
        RATE_LIMIT_BLOCKS.labels(rule.name, scope).inc()
        log.warning(
            "auth.rate_limit.blocked",
            scope=scope,
            policy=rule.name,
            attempts=attempts,
            limit=limit,
            window_seconds=rule.window_seconds,
            **who,
        )
        retry_after = max(math.ceil((ttl_ms if ttl_ms > 0 else window_ms) / 1000), 1)
        raise RateLimited(headers={"Retry-After": str(retry_after)})
