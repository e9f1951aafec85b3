"""Sessions in Redis: one per access-token jti, holding the sha256 of its refresh token (identity.md §6.3).

Keys (platform.md §7): `pf:session:access:<jti>` -> `{user_id, refresh_sha256, family}` and
`pf:session:user:<user_id>` (set of jtis, for revoke-all), both with the refresh TTL, sliding on rotation.

Reuse detection adds `pf:session:rotated:<jti>` -> `{user_id, refresh_sha256, family}` (same TTL): the
tombstone of a rotated session. `family` is the id of the login the session descends from; presenting a
rotated refresh token revokes every live session of that family, i.e. the whole session.
"""

from __future__ import annotations

import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from packfinderz.kit.security import new_refresh_token, sha256_hex


def session_key(jti: str) -> str:
    return f"pf:session:access:{jti}"


def user_sessions_key(user_id: uuid.UUID) -> str:
    return f"pf:session:user:{user_id}"


def rotated_key(jti: str) -> str:
    return f"pf:session:rotated:{jti}"


class InvalidRefreshToken(Exception):
    """The refresh token does not match a live session."""


class RefreshTokenReused(InvalidRefreshToken):
    """An already-rotated refresh token was presented; its whole session has been revoked."""


@dataclass(frozen=True)
class NewSession:
    """A session just created or rotated: the token's jti and the refresh token (shown once)."""

    jti: str
    refresh_token: str


class SessionStore:
    """Create, check, rotate and revoke sessions."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @staticmethod
    def _record(user_id: uuid.UUID, refresh_token: str, family: str) -> str:
        return json.dumps(
            {"user_id": str(user_id), "refresh_sha256": sha256_hex(refresh_token), "family": family}
        )

    async def create(self, user_id: uuid.UUID) -> NewSession:
        """Start a new session (a new family) for the user."""
        jti = str(uuid.uuid4())
        refresh = new_refresh_token()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(session_key(jti), self._record(user_id, refresh, jti), ex=self._ttl)
            pipe.sadd(user_sessions_key(user_id), jti)
            pipe.expire(user_sessions_key(user_id), self._ttl)
            await pipe.execute()
        return NewSession(jti, refresh)

    async def is_live(self, jti: str, user_id: uuid.UUID) -> bool:
        """True while the session exists and belongs to the user."""
        raw = await self._redis.get(session_key(jti))
        return raw is not None and _load(raw).get("user_id") == str(user_id)

    async def rotate(self, jti: str, user_id: uuid.UUID, refresh_token: str | None = None) -> NewSession:
        """Replace the session by a new jti and refresh token in one MULTI.

        With `refresh_token`, it must match the session (constant-time); a token matching the tombstone of
        an already-rotated session revokes that session's family and raises RefreshTokenReused. Without
        it, the caller has already authenticated the session by its access token (switch-store, password).
        """
        old_key = session_key(jti)
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(old_key)
            raw = await pipe.get(old_key)
            if raw is None:
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                if refresh_token is not None:
                    await self._detect_reuse(jti, refresh_token)
                raise InvalidRefreshToken
            record = _load(raw)
            if record.get("user_id") != str(user_id):
                raise InvalidRefreshToken
            if refresh_token is not None and not hmac.compare_digest(
                str(record.get("refresh_sha256", "")), sha256_hex(refresh_token)
            ):
                raise InvalidRefreshToken
            family = str(record.get("family") or jti)
            new = NewSession(str(uuid.uuid4()), new_refresh_token())
            users = user_sessions_key(user_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.delete(old_key)
            pipe.set(rotated_key(jti), raw, ex=self._ttl)
            pipe.set(session_key(new.jti), self._record(user_id, new.refresh_token, family), ex=self._ttl)
            pipe.srem(users, jti)
            pipe.sadd(users, new.jti)
            pipe.expire(users, self._ttl)
            try:
                await pipe.execute()
            except WatchError:
                # Another request rotated (or revoked) this session first; this one lost.
                raise InvalidRefreshToken from None
        return new

    async def _detect_reuse(self, jti: str, refresh_token: str) -> None:
        raw = await self._redis.get(rotated_key(jti))
        if raw is None:
            return
        record = _load(raw)
        if hmac.compare_digest(str(record.get("refresh_sha256", "")), sha256_hex(refresh_token)):
            await self.revoke_family(uuid.UUID(str(record["user_id"])), str(record.get("family")))
            raise RefreshTokenReused

    async def revoke(self, jti: str, user_id: uuid.UUID) -> None:
        """Delete one session (already gone is fine)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(session_key(jti))
            pipe.srem(user_sessions_key(user_id), jti)
            await pipe.execute()

    async def revoke_all(self, user_id: uuid.UUID, *, keep: str | None = None) -> int:
        """Delete every session of the user except `keep`; returns how many were live."""
        users = user_sessions_key(user_id)
        jtis = [str(j) for j in await self._redis.smembers(users) if j != keep]
        if not jtis:
            return 0
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*[session_key(j) for j in jtis])
            pipe.srem(users, *jtis)
            deleted, _ = await pipe.execute()
        return int(deleted)

    async def revoke_family(self, user_id: uuid.UUID, family: str) -> None:
        """Delete every live session descending from the same login."""
        users = user_sessions_key(user_id)
        jtis = [str(j) for j in await self._redis.smembers(users)]
        if not jtis:
            return
        records = await self._redis.mget([session_key(j) for j in jtis])
        doomed = [
            j for j, raw in zip(jtis, records, strict=True) if raw and _load(raw).get("family") == family
        ]
        if doomed:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*[session_key(j) for j in doomed])
                pipe.srem(users, *doomed)
                await pipe.execute()


def _load(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
