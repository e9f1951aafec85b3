"""Auth rules: register, login, refresh, logout, switch-store, passwords, system users (identity.md §6, §7).

Session changes in Redis happen inside the request, before its transaction commits. If the commit then
fails, the caller gets an error and never sees the new tokens; revocations done early fail closed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

import structlog
from prometheus_client import Counter
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import service as audit
from packfinderz.auth import repository as users
from packfinderz.auth.runtime import Identity
from packfinderz.auth.schemas import (
    AdminLoginResult,
    AdminRegisterIn,
    AdminUserDTO,
    LoginIn,
    LoginResult,
    RefreshResult,
    RegisterIn,
    RegisterResult,
    ResetPasswordResult,
    SwitchStoreResult,
    TokenBundle,
    UpdatePasswordIn,
    UserDTO,
    UserMembership,
    user_dto,
)
from packfinderz.auth.sessions import InvalidRefreshToken, NewSession, RefreshTokenReused
from packfinderz.billing import service as billing_service
from packfinderz.billing.provider import BillingProvider
from packfinderz.events.outbox import Actor
from packfinderz.kit.errors import (
    Conflict,
    DependencyError,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from packfinderz.kit.pagination import PageParams
from packfinderz.kit.ratelimit import email_hash, policy
from packfinderz.kit.security import InvalidToken, Passwords, normalize_email, temporary_password
from packfinderz.models.identity import Store, User
from packfinderz.stores import repository as stores
from packfinderz.stores.schemas import store_dto, store_summary

log = structlog.get_logger("auth")

AUTH_FAILURES = Counter("packfinderz_auth_failures_total", "Refused credentials", ["reason"])
INVALID_CREDENTIALS = "invalid credentials"

LoginVia = Literal["login", "admin_login"]


@contextmanager
def redis_errors() -> Iterator[None]:
    """Session and rate-limit storage failures answer 503 `{dependency: redis}`."""
    try:
        yield
    except RedisError:
        raise DependencyError("redis") from None


def _now() -> datetime:
    return datetime.now(UTC)


def _tokens(rt: Identity, user: User, new: NewSession, store: Store | None, role: str) -> dict[str, Any]:
    """The token bundle for a session: claims from the current user and store rows."""
    token, expires = rt.tokens.issue(
        user_id=user.id,
        role=role,
        jti=new.jti,
        active_store_id=store.id if store else None,
        store_type=store.type if store else None,
        kyc_status=store.kyc_status if store else None,
        must_change_password=user.must_change_password,
    )
    return {"access_token": token, "access_token_expires_at": expires, "refresh_token": new.refresh_token}


async def _refuse_login(
    rt: Identity, user: User | None, email: str, *, reason: str, ip: str | None, via: LoginVia
) -> NoReturn:
    """Audit the failure in its own short transaction (the request's rolls back), then answer 401."""
    AUTH_FAILURES.labels(reason).inc()
    log.info("auth.login_failed", reason=reason, via=via, user_id=str(user.id) if user else None)
    async with rt.db.transaction() as own:
        await audit.record(
            own,
            action="auth.login_failed",
            target_type="user",
            target_id=user.id if user else None,
            actor_role=audit.ANONYMOUS,
            actor_user_id=user.id if user else None,
            payload={"via": via, "reason": reason, "email_sha256": email_hash(email), "ip": ip},
        )
    raise Unauthorized(INVALID_CREDENTIALS)


# --- register -------------------------------------------------------------------------------------


async def register(
    session: AsyncSession, rt: Identity, body: RegisterIn, *, billing: BillingProvider | None = None
) -> RegisterResult:
    """Create (or reuse, with the matching password) the user, then a store they own, and sign in on it.

    A vendor store is linked to its billing customer (money-ads-analytics.md §1.8) when a provider is
    given; a provider failure raises, so nothing is committed."""
    email = normalize_email(body.email)
    await rt.limiter.hit_email(policy(rt.settings, "register"), email)
    user = await users.by_email(session, email)
    if user is not None:
        if not await rt.passwords.verify(user.password_hash, body.password) or not user.is_active:
            AUTH_FAILURES.labels("register_bad_password").inc()
            raise Unauthorized(INVALID_CREDENTIALS)
        if user.system_role is not None:
            raise Conflict("system users cannot join stores")
    else:
        user = await users.insert_user(
            session,
            email=email,
            password_hash=await rt.passwords.hash(body.password),
            first_name=body.first_name,
            last_name=body.last_name,
            phone=body.phone,
            password_changed_at=_now(),
        )
    store = await stores.insert_store(
        session,
        type=body.store_type,
        company_name=body.company_name,
        dba_name=body.dba_name,
        owner_user_id=user.id,
        last_active_at=_now(),
        **body.address.columns(),
    )
    if billing is not None and store.type == "vendor":
        await billing_service.link_registered_vendor(session, billing, store, user)
    await stores.insert_membership(session, store_id=store.id, user_id=user.id, role="owner", status="active")
    await audit.record(
        session,
        action="store.created",
        target_type="store",
        target_id=store.id,
        actor=Actor(user.id, "owner", store.id),
        payload={"type": store.type},
    )
    summaries = [store_summary(s, role) for s, role in await stores.active_stores_of(session, user.id)]
    with redis_errors():
        new = await rt.sessions.create(user.id)
    return RegisterResult(
        user=user_dto(user),
        store=store_dto(store, user),
        stores=summaries,
        **_tokens(rt, user, new, store, "owner"),
    )


async def register_admin(
    session: AsyncSession, rt: Identity, body: AdminRegisterIn, ip: str | None
) -> AdminLoginResult:
    """Dev-only: create an active admin, then sign in as admin login does."""
    email = normalize_email(body.email)
    await rt.limiter.hit_email(policy(rt.settings, "register"), email)
    if await users.by_email(session, email) is not None:
        raise Conflict("email already registered", details={"constraint": "uq_users_email"})
    user = await users.insert_user(
        session,
        email=email,
        password_hash=await rt.passwords.hash(body.password),
        first_name=body.first_name,
        last_name=body.last_name,
        system_role="admin",
        password_changed_at=_now(),
    )
    await audit.record(
        session,
        action="user.created",
        target_type="user",
        target_id=user.id,
        actor_role=audit.ANONYMOUS,
        payload={"via": "admin_register", "system_role": "admin"},
    )
    tokens, _, _ = await _sign_in(session, rt, user, via="admin_login", ip=ip)
    return AdminLoginResult(user=user_dto(user), **tokens)


# --- login ----------------------------------------------------------------------------------------


async def login(
    session: AsyncSession, rt: Identity, body: LoginIn, ip: str | None, *, via: LoginVia
) -> LoginResult | AdminLoginResult:
    """Verify credentials and open a session; store users land on their first store by name."""
    email = normalize_email(body.email)
    await rt.limiter.hit_email(policy(rt.settings, "login"), email)
    user = await users.by_email(session, email)
    valid = await rt.passwords.verify(user.password_hash if user else None, body.password)
    if user is None:
        await _refuse_login(rt, None, email, reason="unknown_email", ip=ip, via=via)
    if not valid:
        await _refuse_login(rt, user, email, reason="bad_password", ip=ip, via=via)
    if not user.is_active:
        await _refuse_login(rt, user, email, reason="inactive", ip=ip, via=via)
    if via == "admin_login" and user.system_role != "admin":
        await _refuse_login(rt, user, email, reason="not_admin", ip=ip, via=via)
    if rt.passwords.needs_rehash(user.password_hash):
        await users.update_user(session, user, password_hash=await rt.passwords.hash(body.password))
    if user.system_role is None:
        await stores.activate_invitations(session, user.id)
    memberships = await stores.active_stores_of(session, user.id) if user.system_role is None else []
    if user.system_role is None and not memberships:
        await _refuse_login(rt, user, email, reason="no_access", ip=ip, via=via)
    tokens, store, _ = await _sign_in(session, rt, user, via=via, ip=ip, memberships=memberships)
    if via == "admin_login":
        return AdminLoginResult(user=user_dto(user), **tokens)
    return LoginResult(
        user=user_dto(user),
        stores=[store_summary(s, role) for s, role in memberships],
        active_store_id=store.id if store else None,
        **tokens,
    )


async def _sign_in(
    session: AsyncSession,
    rt: Identity,
    user: User,
    *,
    via: LoginVia,
    ip: str | None,
    memberships: list[tuple[Store, str]] | None = None,
) -> tuple[dict[str, Any], Store | None, str]:
    """Record the login, pick the active store (first by name), open the session, issue tokens."""
    store, role = memberships[0] if memberships else (None, user.system_role or "")
    await users.update_user(session, user, last_login_at=_now())
    if store is not None:
        await stores.touch_last_active(session, store.id)
    await audit.record(
        session,
        action="auth.login_succeeded",
        target_type="user",
        target_id=user.id,
        actor=Actor(user.id, role, store.id if store else None),
        payload={"via": via},
    )
    with redis_errors():
        new = await rt.sessions.create(user.id)
    return _tokens(rt, user, new, store, role), store, role


# --- refresh / logout / switch-store --------------------------------------------------------------


def _claims_ignoring_expiry(rt: Identity, token: str) -> Any:
    try:
        return rt.tokens.decode(token, verify_exp=False)
    except InvalidToken:
        raise Unauthorized("invalid token") from None


async def _role_in(session: AsyncSession, user: User, store_id: uuid.UUID | None) -> tuple[Store | None, str]:
    """(store, token role) from the current rows; 401 when the token's store is no longer the user's."""
    if user.system_role is not None:
        return None, user.system_role
    found = await stores.active_membership(session, user.id, store_id) if store_id else None
    if found is None:
        raise Unauthorized("store membership required")
    return found


async def refresh(
    session: AsyncSession, rt: Identity, access_token: str, refresh_token: str
) -> RefreshResult:
    """Rotate the session of this access token (expiry ignored) if the refresh token matches it."""
    claims = _claims_ignoring_expiry(rt, access_token)
    user = await users.by_id(session, claims.user_id)
    if user is None or not user.is_active:
        with redis_errors():
            await rt.sessions.revoke(claims.jti, claims.user_id)
        raise Unauthorized("session expired or revoked")
    store, role = await _role_in(session, user, claims.active_store_id)
    try:
        with redis_errors():
            new = await rt.sessions.rotate(claims.jti, user.id, refresh_token)
    except RefreshTokenReused:
        AUTH_FAILURES.labels("refresh_reuse").inc()
        log.warning("auth.refresh_reuse_detected", user_id=str(user.id))
        raise Unauthorized("invalid refresh token") from None
    except InvalidRefreshToken:
        AUTH_FAILURES.labels("bad_refresh").inc()
        raise Unauthorized("invalid refresh token") from None
    return RefreshResult(active_store_id=store.id if store else None, **_tokens(rt, user, new, store, role))


async def logout(rt: Identity, access_token: str) -> None:
    """Delete the token's session (already gone is success)."""
    claims = _claims_ignoring_expiry(rt, access_token)
    with redis_errors():
        await rt.sessions.revoke(claims.jti, claims.user_id)


async def switch_store(
    session: AsyncSession, rt: Identity, user_id: uuid.UUID, jti: str, store_id: uuid.UUID
) -> SwitchStoreResult:
    """Make another of the user's stores the active one; rotates the session."""
    user = await users.by_id(session, user_id)
    if user is None:
        raise Unauthorized("session expired or revoked")
    membership = None if user.system_role else await stores.get_membership(session, store_id, user_id)
    if membership is None:
        raise Forbidden("store membership required")
    if membership.status != "active":
        raise Forbidden("store membership inactive")
    store = await stores.get_store(session, store_id)
    assert store is not None  # the membership's FK
    await stores.touch_last_active(session, store.id)
    new = await _rotate(rt, jti, user.id)
    return SwitchStoreResult(
        store_id=store.id,
        store_name=store.company_name,
        store_type=store.type,
        role=membership.role,
        **_tokens(rt, user, new, store, membership.role),
    )


async def _rotate(rt: Identity, jti: str, user_id: uuid.UUID) -> NewSession:
    try:
        with redis_errors():
            return await rt.sessions.rotate(jti, user_id)
    except InvalidRefreshToken:
        raise Unauthorized("session expired or revoked") from None


# --- passwords ------------------------------------------------------------------------------------


async def update_password(
    session: AsyncSession,
    rt: Identity,
    *,
    user_id: uuid.UUID,
    jti: str,
    store_id: uuid.UUID | None,
    body: UpdatePasswordIn,
    ip: str | None,
) -> TokenBundle:
    """Change the caller's password; every other session is revoked and this one rotated."""
    user = await users.by_id(session, user_id, lock=True)
    if user is None:
        raise Unauthorized("session expired or revoked")
    store, role = await _role_in(session, user, store_id)
    await rt.limiter.hit_email(policy(rt.settings, "login"), user.email)
    if not await rt.passwords.verify(user.password_hash, body.current_password):
        AUTH_FAILURES.labels("bad_current_password").inc()
        async with rt.db.transaction() as own:
            await audit.record(
                own,
                action="auth.password_change_failed",
                target_type="user",
                target_id=user.id,
                actor=Actor(user.id, role, store.id if store else None),
                payload={"ip": ip},
            )
        raise Unauthorized(INVALID_CREDENTIALS)
    if body.new_password == body.current_password:
        raise ValidationFailed(details={"new_password": "must differ from the current password"})
    await users.update_user(
        session,
        user,
        password_hash=await rt.passwords.hash(body.new_password),
        password_changed_at=_now(),
        must_change_password=False,
    )
    await audit.record(
        session,
        action="auth.password_changed",
        target_type="user",
        target_id=user.id,
        actor=Actor(user.id, role, store.id if store else None),
    )
    with redis_errors():
        await rt.sessions.revoke_all(user.id, keep=jti)
    new = await _rotate(rt, jti, user.id)
    return TokenBundle(**_tokens(rt, user, new, store, role))


async def reset_password(
    session: AsyncSession,
    passwords: Passwords,
    user_id: uuid.UUID,
    *,
    actor: Actor | None,
    via: Literal["admin", "cli"],
    request_id: str | None = None,
) -> tuple[User, str]:
    """Give the user a temporary password (must change it at next use); the caller revokes sessions."""
    user = await users.by_id(session, user_id, lock=True)
    if user is None:
        raise NotFound("user not found")
    temporary = temporary_password()
    await users.update_user(
        session,
        user,
        password_hash=await passwords.hash(temporary),
        password_changed_at=_now(),
        must_change_password=True,
    )
    await audit.record(
        session,
        action="auth.password_reset",
        target_type="user",
        target_id=user.id,
        actor=actor,
        payload={"via": via},
        request_id=request_id,
    )
    return user, temporary


async def admin_reset_password(
    session: AsyncSession, rt: Identity, admin: Actor, user_id: uuid.UUID
) -> ResetPasswordResult:
    """Admin reset: temporary password returned once; all the user's sessions revoked."""
    user, temporary = await reset_password(session, rt.passwords, user_id, actor=admin, via="admin")
    with redis_errors():
        await rt.sessions.revoke_all(user.id)
    return ResetPasswordResult(user_id=user.id, temporary_password=temporary)


# --- admin user views -----------------------------------------------------------------------------


async def list_users(
    session: AsyncSession,
    page: PageParams,
    *,
    email_prefix: str | None,
    system_role: str | None,
    is_active: bool | None,
) -> tuple[list[UserDTO], str | None]:
    """Users for the admin console, newest first."""
    rows, cursor = await users.users_page(
        session,
        page,
        email_prefix=normalize_email(email_prefix) if email_prefix else None,
        system_role=system_role,
        is_active=is_active,
    )
    return [user_dto(u) for u in rows], cursor


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> AdminUserDTO:
    """A user with their memberships; 404 when missing."""
    user = await users.by_id(session, user_id)
    if user is None:
        raise NotFound("user not found")
    memberships = [
        UserMembership(store_id=s.id, company_name=s.company_name, role=m.role, status=m.status)
        for m, s in await users.memberships_of(session, user.id)
    ]
    return AdminUserDTO(**user_dto(user).model_dump(), memberships=memberships)


# --- operator CLI (identity.md §7) ----------------------------------------------------------------


async def create_system_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    role: Literal["admin", "agent"],
    email: str,
    first_name: str,
    last_name: str,
    phone: str | None = None,
    password: str | None = None,
    request_id: str | None = None,
) -> tuple[User, str | None]:
    """An active system user; without a password a temporary one is returned (and must be changed)."""
    email = normalize_email(email)
    if await users.by_email(session, email) is not None:
        raise Conflict("email already registered", details={"constraint": "uq_users_email"})
    temporary = temporary_password() if password is None else None
    user = await users.insert_user(
        session,
        email=email,
        password_hash=await passwords.hash(password if password is not None else str(temporary)),
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        system_role=role,
        must_change_password=temporary is not None,
        password_changed_at=_now(),
    )
    await audit.record(
        session,
        action="user.created",
        target_type="user",
        target_id=user.id,
        payload={"via": "cli", "system_role": role},
        request_id=request_id,
    )
    return user, temporary


async def set_user_active(
    session: AsyncSession, email: str, *, active: bool, request_id: str | None = None
) -> User:
    """Activate or deactivate a user by email (the caller revokes sessions on deactivate); 404 if unknown."""
    user = await users.by_email(session, normalize_email(email), lock=True)
    if user is None:
        raise NotFound("user not found")
    if user.is_active != active:
        await users.update_user(session, user, is_active=active)
        await audit.record(
            session,
            action="user.activated" if active else "user.deactivated",
            target_type="user",
            target_id=user.id,
            payload={"via": "cli"},
            request_id=request_id,
        )
    return user


async def user_id_by_email(session: AsyncSession, email: str) -> uuid.UUID:
    """The id of the user with this email; 404 if unknown."""
    user = await users.by_email(session, normalize_email(email))
    if user is None:
        raise NotFound("user not found")
    return user.id


async def system_users(
    session: AsyncSession, role: str | None, page: PageParams
) -> tuple[list[User], str | None]:
    """System users (of one role, or all), newest first."""
    return await users.users_page(session, page, system_role=role, system_users_only=True)
