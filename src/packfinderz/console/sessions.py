"""Console sign-in sessions in Redis: a random id in the cookie, the record server-side.

`pf:console:<sha256(id)>` -> `{user_id, jti, csrf, flash}` with the idle timeout as TTL, slid on every
request. `jti` is the API session opened by the sign-in (the same `auth.service.login` the API uses), so
revoking a user's sessions (password reset, deactivation) also ends their console session.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from packfinderz.kit.security import sha256_hex

COOKIE = "pf_console"
SIGN_IN_CSRF_COOKIE = "pf_console_csrf"
PATH = "/console"


def _key(session_id: str) -> str:
    return f"pf:console:{sha256_hex(session_id)}"


def new_token() -> str:
    """A random URL-safe token (session ids and CSRF tokens)."""
    return secrets.token_urlsafe(32)


@dataclass
class ConsoleSession:
    """A live console session."""

    id: str
    user_id: uuid.UUID
    jti: str
    csrf: str
    flash: list[dict[str, str]] = field(default_factory=list)

    def record(self) -> str:
        return json.dumps(
            {"user_id": str(self.user_id), "jti": self.jti, "csrf": self.csrf, "flash": self.flash}
        )


class ConsoleSessions:
    """Create, load (sliding the idle timeout), update and delete console sessions."""

    def __init__(self, redis: Redis, idle_seconds: float) -> None:
        self.redis = redis
        self._ttl = max(1, int(idle_seconds))

    async def create(self, user_id: uuid.UUID, jti: str) -> ConsoleSession:
        session = ConsoleSession(id=new_token(), user_id=user_id, jti=jti, csrf=new_token())
        await self.redis.set(_key(session.id), session.record(), ex=self._ttl)
        return session

    async def load(self, session_id: str) -> ConsoleSession | None:
        """The session, its idle timer restarted; None when unknown or idle too long."""
        raw = await self.redis.getex(_key(session_id), ex=self._ttl)
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        return ConsoleSession(
            id=session_id,
            user_id=uuid.UUID(data["user_id"]),
            jti=data["jti"],
            csrf=data["csrf"],
            flash=list(data.get("flash") or []),
        )

    async def save(self, session: ConsoleSession) -> None:
        await self.redis.set(_key(session.id), session.record(), ex=self._ttl, xx=True)

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(_key(session_id))
