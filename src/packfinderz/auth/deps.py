"""Access control as FastAPI dependencies (identity.md §2, §3).

- `CurrentUser`: a valid bearer token whose session is live, past the password-change gate.
- `AuthenticatedUser`: the same without the gate (update-password only).
- `StoreContext`: CurrentUser + an active store, re-checked against a live `active` membership in the
  database on every request (a removed member's token stops working at once). Store type, KYC and the
  member's role come from the rows, never from the token.
- Guards: `require_store("vendor"|"buyer"|None, *roles, verified=False)` — the one guard for "a store of
  this type (KYC-verified if asked) where the caller has one of these roles" (use as
  `ctx: Annotated[StoreCtx, require_store("vendor", "owner", "manager", "ops")]` or in
  `dependencies=[...]`); `require_store_type` and `require_store_roles` are its two halves; and the
  system-role guards `AdminUser`, `AgentUser` (no store needed).
- `ctx.actor()`: the `events.outbox.Actor` (and audit actor) for a context.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError

from packfinderz.auth.runtime import IdentityRuntime
from packfinderz.events.outbox import Actor
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import DependencyError, Forbidden, PasswordChangeRequired, Unauthorized
from packfinderz.kit.http import client_ip
from packfinderz.kit.ratelimit import PolicyName, policy, rate_limit_dependency
from packfinderz.kit.security import AccessClaims, InvalidToken
from packfinderz.models.identity import SYSTEM_ROLES, Store
from packfinderz.stores import repository as stores

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="Access token from login, register, refresh or switch-store (also sent as X-PF-Token).",
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


@dataclass(frozen=True)
class AuthContext:
    """Who is calling, from a verified access token whose session is live."""

    user_id: uuid.UUID
    role: str
    system_role: str | None
    store_id: uuid.UUID | None
    store_role: str | None
    store_type: str | None
    jti: str
    must_change_password: bool

    @classmethod
    def from_claims(cls, claims: AccessClaims) -> AuthContext:
        system_role = claims.role if claims.role in SYSTEM_ROLES else None
        return cls(
            user_id=claims.user_id,
            role=claims.role,
            system_role=system_role,
            store_id=None if system_role else claims.active_store_id,
            store_role=None if system_role else claims.role,
            store_type=None if system_role else claims.store_type,
            jti=claims.jti,
            must_change_password=claims.must_change_password,
        )

    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, role=self.role, store_id=self.store_id)


@dataclass(frozen=True)
class StoreCtx:
    """An authenticated member acting in their active store, as read from the database this request."""

    auth: AuthContext
    store: Store
    role: str

    @property
    def user_id(self) -> uuid.UUID:
        return self.auth.user_id

    @property
    def store_id(self) -> uuid.UUID:
        return self.store.id

    @property
    def store_type(self) -> str:
        return self.store.type

    @property
    def kyc_status(self) -> str:
        return self.store.kyc_status

    @property
    def subscription_active(self) -> bool:
        return self.store.subscription_active

    def actor(self) -> Actor:
        return Actor(user_id=self.auth.user_id, role=self.role, store_id=self.store.id)


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The raw bearer token; 401 `missing credentials` without one."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing credentials")
    return credentials.credentials


def set_log_context(request: Request, user_id: uuid.UUID, store_id: uuid.UUID | None, role: str) -> None:
    """Expose the caller to the access log (request.complete) and to idempotency scoping."""
    request.scope.setdefault("state", {})["auth_context"] = {
        "user_id": str(user_id),
        "store_id": str(store_id) if store_id else None,
        "actor_role": role,
    }


async def _authenticate(request: Request, credentials: BearerCredentials, rt: IdentityRuntime) -> AuthContext:
    token = bearer_token(credentials)
    try:
        claims = rt.tokens.decode(token)
    except InvalidToken:
        raise Unauthorized("invalid token") from None
    try:
        live = await rt.sessions.is_live(claims.jti, claims.user_id)
    except RedisError:
        raise DependencyError("redis") from None
    if not live:
        raise Unauthorized("session expired or revoked")
    context = AuthContext.from_claims(claims)
    set_log_context(request, context.user_id, context.store_id, context.role)
    return context


AuthenticatedUser = Annotated[AuthContext, Depends(_authenticate)]


async def _current_user(context: AuthenticatedUser) -> AuthContext:
    if context.must_change_password:
        raise PasswordChangeRequired
    return context


CurrentUser = Annotated[AuthContext, Depends(_current_user)]


async def _store_context(context: CurrentUser, session: DbSession) -> StoreCtx:
    if context.store_id is None:
        raise Forbidden("store context missing")
    found = await stores.active_membership(session, context.user_id, context.store_id)
    if found is None:
        raise Forbidden("store membership required")
    store, role = found
    return StoreCtx(auth=context, store=store, role=role)


StoreContext = Annotated[StoreCtx, Depends(_store_context)]


def require_store_type(store_type: str) -> Any:
    """Dependency: the active store must be of this type (403 `<type> access required`)."""
    return require_store(store_type)


def require_store_roles(*roles: str) -> Any:
    """Dependency: the caller's live role in the active store must be one of these (403 otherwise)."""
    return require_store(None, *roles)


def require_store(store_type: str | None = None, *roles: str, verified: bool = False) -> Any:
    """Dependency: the active store is of this type (403 `<type> access required`), KYC-verified when
    `verified` (403 `buyer verification required`), and the caller's live role is one of `roles`
    (403 `insufficient store role`); checked in that order. No type or no roles: that part is skipped."""
    allowed = frozenset(roles)

    async def guard(ctx: StoreContext) -> StoreCtx:
        if store_type is not None and ctx.store_type != store_type:
            raise Forbidden(f"{store_type} access required")
        if verified and ctx.kyc_status != "verified":
            raise Forbidden(f"{ctx.store_type} verification required")
        if allowed and ctx.role not in allowed:
            raise Forbidden("insufficient store role")
        return ctx

    return Depends(guard)


def _require_system_role(role: str) -> Any:
    async def guard(context: CurrentUser) -> AuthContext:
        if context.system_role != role:
            raise Forbidden("role required")
        return context

    return Depends(guard)


def _rate_limited_ip(name: PolicyName) -> Any:
    @rate_limit_dependency(name)
    async def limit(request: Request, rt: IdentityRuntime) -> str | None:
        ip = client_ip(request.scope, rt.settings.trusted_proxy_hops, rt.settings.proxy_networks)
        await rt.limiter.hit_ip(policy(rt.settings, name), ip)
        return ip

    return Depends(limit)


# The client IP (per TRUSTED_PROXY_HOPS), counted against the policy's IP limit before the body is used.
LoginIp = Annotated[str | None, _rate_limited_ip("login")]
RegisterIp = Annotated[str | None, _rate_limited_ip("register")]

AdminUser = Annotated[AuthContext, _require_system_role("admin")]
AgentUser = Annotated[AuthContext, _require_system_role("agent")]
VendorStore = Annotated[StoreCtx, require_store_type("vendor")]
BuyerStore = Annotated[StoreCtx, require_store_type("buyer")]
