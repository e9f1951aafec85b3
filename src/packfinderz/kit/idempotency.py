"""HTTP idempotency keys (identity.md §4): one mechanism, opted into per route with `@idempotent(...)`.

Usage (the decorator goes under the route decorator)::

    @router.post("", status_code=201, responses=error_responses(..., 409, 422))
    @idempotent("critical")
    async def checkout(body: CheckoutIn, ctx: StoreContext, session: DbSession) -> ...: ...

How it fits the pipeline:
- The decorator adds a required `Idempotency-Key` header parameter (so it is validated and documented
  like any other input) and claims the key right before the handler body runs, i.e. after
  authentication, guards and body validation: those refusals never touch the key.
- Scope = (user id or `-`, active store id or `-`) from `scope["state"]["auth_context"]`, set by the auth
  dependencies, plus method, route template and key. Fingerprint = sha256(path?query + "\n" + raw body).
- `IdempotencyMiddleware` (installed once in create_app) sees the final response after the request's
  transaction has committed (DbSession commits before the response is sent), including error envelopes
  rendered from AppError, and stores it (2xx/4xx) or drops the claim (5xx or an exception) before
  forwarding it, so a retry that arrives after the response always finds the record.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import pydantic_core
import structlog
from fastapi import Header, Request, Response
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from packfinderz.config import Settings
from packfinderz.kit.errors import (
    DependencyError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    ValidationFailed,
)

log = structlog.get_logger("idempotency")

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Never stored, so never replayed: a replay answers them as null (identity.md §4).
SECRET_FIELDS = frozenset({"access_token", "refresh_token", "temporary_password"})
STATE_KEY = "idempotency"
OUTCOME_KEY = "idempotency_outcome"

IDEMPOTENCY_OUTCOMES = Counter(
    "packfinderz_idempotency_outcomes_total", "Idempotency-Key outcomes", ["outcome"]
)

TTLClass = Literal["default", "critical"]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])


def ttl_seconds(settings: Settings, ttl: TTLClass) -> int:
    """Lifetime of a finished record: 24 h by default, 7 d for checkout, order, delivery and payment."""
    seconds = settings.idempotency_critical_ttl if ttl == "critical" else settings.idempotency_ttl
    return max(math.ceil(seconds), 1)


@dataclass
class Claim:
    """A key this request holds `in_progress`; the middleware settles it with the final response."""

    redis: Redis
    key: str
    fingerprint: str
    ttl: int


@dataclass
class _Slot:
    claim: Claim | None = None
    chunks: list[Message] = field(default_factory=list)


def redis_key(user: str, store: str, method: str, route: str, key: str) -> str:
    """`pf:idempotency:<user|->:<store|->:<METHOD>:<route template>:<key>`."""
    return f"pf:idempotency:{user}:{store}:{method.upper()}:{route}:{key}"


def fingerprint(path: str, query: str, body: bytes) -> str:
    """sha256 of the concrete path + query + newline + raw body (another resource = another request)."""
    target = path + (f"?{query}" if query else "")
    return hashlib.sha256(target.encode() + b"\n" + body).hexdigest()


def validate_key(raw: str) -> str:
    """The trimmed key: 1..255 printable ASCII characters, else 400."""
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise ValidationFailed(details={HEADER: f"must be 1..{MAX_KEY_LENGTH} printable ASCII characters"})
    return key


def _outcome(scope: Scope, outcome: str) -> None:
    """Count the outcome; the access line of the request (`request.complete`) carries it."""
    IDEMPOTENCY_OUTCOMES.labels(outcome).inc()
    scope.setdefault("state", {})[OUTCOME_KEY] = outcome


async def claim_or_replay(request: Request, raw_key: str, ttl: TTLClass) -> Response | None:
    """Claim the key for this request (None), or answer from its record: replay, 409 or 422."""
    key = validate_key(raw_key)
    settings: Settings = request.app.state.settings
    redis: Redis = request.app.state.redis
    auth = request.scope.get("state", {}).get("auth_context") or {}
    route = getattr(request.scope.get("route"), "path", request.url.path)
    full_key = redis_key(
        str(auth.get("user_id") or "-"), str(auth.get("store_id") or "-"), request.method, route, key
    )
    print_ = fingerprint(request.url.path, request.url.query, await request.body())
    in_progress = json.dumps({"state": "in_progress", "fingerprint": print_})
    in_progress_ms = max(int(settings.idempotency_in_progress_ttl * 1000), 1)
    try:
        for _ in range(2):  # the record may expire between SET NX and GET: try once more
            if await redis.set(full_key, in_progress, px=in_progress_ms, nx=True):
                slot: _Slot | None = request.scope.get("state", {}).get(STATE_KEY)
                if slot is None:
                    raise RuntimeError("IdempotencyMiddleware is not installed")
                slot.claim = Claim(redis, full_key, print_, ttl_seconds(settings, ttl))
                return None
            raw = await redis.get(full_key)
            if raw is not None:
                record = json.loads(raw)
                pttl = await redis.pttl(full_key)
                break
        else:
            raise DependencyError("redis")
    except RedisError:
        raise DependencyError("redis") from None
    if record.get("fingerprint") != print_:
        _outcome(request.scope, "reused")
        raise IdempotencyKeyReused(details={"key": key})
    if record.get("state") != "done":
        _outcome(request.scope, "in_progress")
        wait = max(math.ceil(pttl / 1000), 1) if pttl > 0 else 1
        raise IdempotencyInProgress(details={"retry_after_seconds": wait}, headers={"Retry-After": str(wait)})
    _outcome(request.scope, "replayed")
    return Response(
        content=str(record.get("body") or ""),
        status_code=int(record["status"]),
        media_type=record.get("content_type"),
        headers={REPLAY_HEADER: "true"},
    )


def idempotent(ttl: TTLClass = "default") -> Callable[[Endpoint], Endpoint]:
    """Make a route require `Idempotency-Key` and replay its first outcome (see the module docstring)."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request: Request = kwargs.pop("_idempotency_request")
            replay = await claim_or_replay(request, kwargs.pop("_idempotency_key"), ttl)
            if replay is not None:
                return replay
            return await endpoint(*args, **kwargs)

        signature = inspect.signature(endpoint)
        extra = [
            inspect.Parameter("_idempotency_request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter(
                "_idempotency_key",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    str,
                    Header(
                        alias=HEADER,
                        description=(
                            f"1..{MAX_KEY_LENGTH} printable ASCII characters, unique per intended action. "
                            f"A retry with the same key and body replays the first answer with "
                            f"`{REPLAY_HEADER}: true` (tokens and temporary passwords replay as null); "
                            f"records live {'7 days' if ttl == 'critical' else '24 hours'}."
                        ),
                    ),
                ],
            ),
        ]
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *extra]
        )
        return wrapper  # type: ignore[return-value]

    return decorate


# A body holding none of these byte strings has no secret field to null: it is stored as it is, with
# no parse and re-encode (the api's own JSON never escapes the ASCII letters of a key).
_SECRET_KEYS = tuple(f'"{name}"'.encode() for name in sorted(SECRET_FIELDS))


def scrub(body: bytes) -> str:
    """The body to store: JSON with secret fields nulled at any depth (other bodies as text)."""
    if not any(secret in body for secret in _SECRET_KEYS):
        return body.decode("utf-8", errors="replace")
    try:
        value = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (None if k in SECRET_FIELDS else clean(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return json.dumps(clean(value), ensure_ascii=False, separators=(",", ":"))


async def _settle(scope: Scope, claim: Claim, status: int, content_type: str | None, body: bytes) -> None:
    try:
        if status >= 500:
            await claim.redis.delete(claim.key)
            return
        record = {
            "state": "done",
            "fingerprint": claim.fingerprint,
            "status": status,
            "content_type": content_type,
            "body": scrub(body),
        }
        await claim.redis.set(claim.key, pydantic_core.to_json(record), ex=claim.ttl)
        _outcome(scope, "stored")
    except RedisError as exc:
        # The response itself is fine; a retry will find the claim expired and run again.
        log.error("idempotency.store_failed", error=type(exc).__name__)


class IdempotencyMiddleware:
    """Settles claims made by `@idempotent` routes with their final response (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot = _Slot()
        scope.setdefault("state", {})[STATE_KEY] = slot

        async def capture(message: Message) -> None:
            if slot.claim is None:
                await send(message)
                return
            slot.chunks.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await self._finish(scope, slot, send)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if slot.claim is not None:
                await _settle(scope, slot.claim, 500, None, b"")
            raise

    @staticmethod
    async def _finish(scope: Scope, slot: _Slot, send: Send) -> None:
        claim, slot.claim = slot.claim, None
        assert claim is not None
        start = slot.chunks[0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
        body = b"".join(m.get("body", b"") for m in slot.chunks[1:])
        await _settle(scope, claim, int(start["status"]), headers.get("content-type"), body)
        for message in slot.chunks:
            await send(message)
        slot.chunks.clear()
