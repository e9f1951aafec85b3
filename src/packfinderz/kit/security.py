"""Passwords (Argon2id), access tokens (JWT HS256), refresh tokens, temporary passwords (identity.md §6)."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import secrets
import string
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from packfinderz.config import Settings

TEMP_PASSWORD_ALPHABET = string.ascii_letters + string.digits
TEMP_PASSWORD_LENGTH = 16
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
PASSWORD_MIN_SCORE = 3  # zxcvbn 0..4: 3 = "safely unguessable", ~10^8 guesses or more
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn's own bound; longer passwords are judged on their first 72 characters
JWT_ALGORITHM = "HS256"


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def password_hasher(settings: Settings) -> PasswordHasher:
    """An Argon2id hasher with the configured parameters, clamped to identity.md §6.1's ranges."""
    parallelism = _clamp(settings.argon_parallelism, 1, 255)
    # Argon2 needs at least 8 KiB per lane; raise memory rather than fail on a small configuration.
    memory = max(_clamp(settings.argon_memory_kb, 8, 524288), 8 * parallelism)
    return PasswordHasher(
        time_cost=_clamp(settings.argon_time, 1, 10),
        memory_cost=memory,
        parallelism=parallelism,
        hash_len=_clamp(settings.argon_key_len, 16, 64),
        salt_len=_clamp(settings.argon_salt_len, 8, 64),
    )


class Passwords:
    """Hash and verify passwords off the event loop (Argon2 is deliberately slow)."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = password_hasher(settings)
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        """A PHC string `$argon2id$v=19$m=..,t=..,p=..$salt$hash` with a random salt."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when the password matches; with no hash, burn the same time and return False."""
        if password_hash is None and self._dummy_hash is None:
            # Unknown emails verify against a dummy so a miss costs as much as a wrong password.
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        target = password_hash if password_hash is not None else self._dummy_hash
        assert target is not None
        try:
            ok = await asyncio.to_thread(self._hasher.verify, target, password)
        except (VerificationError, InvalidHashError):
            return False
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the stored hash was made with other parameters than the configured ones."""
        return self._hasher.check_needs_rehash(password_hash)


def password_problem(password: str, user_inputs: Sequence[str] = ()) -> str | None:
    """Why a chosen password is refused, or None: 12..256 characters and not easy to guess.

    zxcvbn (a maintained estimator) scores the password against its bundled dictionaries, which include
    the most common passwords of public breaches, keyboard patterns, dates and the user's own names.
    """
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"must be at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"must be at most {PASSWORD_MAX_LENGTH} characters"
    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=[u for u in user_inputs if u])
    if int(result["score"]) >= PASSWORD_MIN_SCORE:
        return None
    hint = str(result.get("feedback", {}).get("warning") or "").strip().rstrip(".")
    return "is too easy to guess" + (f" ({hint.lower()})" if hint else "")


def temporary_password() -> str:
    """16 characters of [A-Za-z0-9] from the CSPRNG (secrets.choice is unbiased)."""
    return "".join(secrets.choice(TEMP_PASSWORD_ALPHABET) for _ in range(TEMP_PASSWORD_LENGTH))


def new_refresh_token() -> str:
    """32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalize_email(email: str) -> str:
    """Emails are stored and compared trimmed and lower-cased."""
    return email.strip().lower()


class InvalidToken(Exception):
    """The access token's signature, issuer, expiry or shape is wrong."""


@dataclass(frozen=True)
class AccessClaims:
    """The claims of an access token (identity.md §6.3)."""

    user_id: uuid.UUID
    role: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    active_store_id: uuid.UUID | None = None
    store_type: str | None = None
    kyc_status: str | None = None
    must_change_password: bool = False


VERIFIED_TOKENS = 4096


class AccessTokens:
    """Sign and verify HS256 access tokens with the configured secret, issuer and lifetime."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.effective_jwt_secret
        self._issuer = settings.jwt_issuer
        self.lifetime = timedelta(minutes=settings.jwt_expiration_minutes)
        # Failures raise, so only verified tokens are cached.
        self._verified = functools.lru_cache(maxsize=VERIFIED_TOKENS)(self._verify)

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        role: str,
        jti: str,
        active_store_id: uuid.UUID | None = None,
        store_type: str | None = None,
        kyc_status: str | None = None,
        must_change_password: bool = False,
        now: datetime | None = None,
    ) -> tuple[str, datetime]:
        """(token, expires_at) for these claims."""
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        expires = issued + self.lifetime
        claims: dict[str, Any] = {
            "user_id": str(user_id),
            "role": role,
            "iss": self._issuer,
            "iat": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": jti,
        }
        if active_store_id is not None:
            claims["active_store_id"] = str(active_store_id)
            claims["store_type"] = store_type
            claims["kyc_status"] = kyc_status
        if must_change_password:
            claims["must_change_password"] = True
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM), expires

    def decode(self, token: str, *, verify_exp: bool = True) -> AccessClaims:
        """Verify signature and issuer (and expiry unless told otherwise); InvalidToken on any failure.

        A token that verified once is remembered (per process, the last VERIFIED_TOKENS tokens): a
        client sends the same token with every request, and the HMAC check and claim parsing are a
        tenth of a search's CPU (issue #21). Only a byte-identical token (same signature) hits; expiry
        is checked on every call, revocation (the session's jti) by the caller as before.
        """
        claims = self._verified(token)
        if verify_exp and claims.expires_at.timestamp() <= time.time():
            raise InvalidToken("ExpiredSignatureError")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "iss", "jti"], "verify_exp": False},
            )
            store = claims.get("active_store_id")
            return AccessClaims(
                user_id=uuid.UUID(str(claims["user_id"])),
                role=str(claims["role"]),
                jti=str(claims["jti"]),
                issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
                active_store_id=uuid.UUID(str(store)) if store else None,
                store_type=claims.get("store_type"),
                kyc_status=claims.get("kyc_status"),
                must_change_password=claims.get("must_change_password") is True,
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError, OverflowError) as exc:
            raise InvalidToken(type(exc).__name__) from None
