"""HTTP: /api/v1/auth/*, /api/admin/v1/auth/* and /api/admin/v1/users/* (identity.md §6.5, §9.2)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from packfinderz.auth import service
from packfinderz.auth.deps import (
    AdminUser,
    AuthenticatedUser,
    BearerCredentials,
    CurrentUser,
    LoginIp,
    RegisterIp,
    bearer_token,
)
from packfinderz.auth.runtime import IdentityRuntime
from packfinderz.auth.schemas import (
    AdminLoginResult,
    AdminRegisterIn,
    AdminUserDTO,
    LoginIn,
    LoginResult,
    LogoutResult,
    RefreshIn,
    RefreshResult,
    RegisterIn,
    RegisterResult,
    ResetPasswordResult,
    SwitchStoreIn,
    SwitchStoreResult,
    TokenBundle,
    UpdatePasswordIn,
    UserDTO,
)
from packfinderz.billing.deps import Billing
from packfinderz.kit.db import DbSession
from packfinderz.kit.http import client_ip
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
admin_auth_router = APIRouter(prefix="/api/admin/v1/auth", tags=["admin: auth"])
dev_admin_router = APIRouter(prefix="/api/admin/v1/auth", tags=["admin: auth"])
admin_users_router = APIRouter(prefix="/api/admin/v1/users", tags=["admin: users"])

TOKEN_HEADER = "X-PF-Token"  # noqa: S105 - a header name


def _no_store(response: Response, access_token: str | None = None) -> None:
    """Token and temporary-password responses are never cached; the newest token is mirrored in a header."""
    response.headers["Cache-Control"] = "no-store"
    if access_token:
        response.headers[TOKEN_HEADER] = access_token


@router.post(
    "/register",
    status_code=201,
    response_model=DataResponse[RegisterResult],
    responses=error_responses(
        400,
        401,
        409,
        422,
        429,
        s401="UNAUTHORIZED `invalid credentials`: the email exists and the password does not match.",
        s409="CONFLICT: system users cannot join stores; or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
        s503="DEPENDENCY_ERROR: a dependency (`details.dependency`, e.g. `billing`) is unavailable.",
    ),
    summary="Register a store (and its owner, unless the email already exists)",
)
@idempotent()
async def register(
    body: RegisterIn,
    response: Response,
    session: DbSession,
    rt: IdentityRuntime,
    _ip: RegisterIp,
    billing: Billing,
) -> dict[str, Any]:
    """Creates the user (or, for an existing email with the matching password, reuses it), a store owned
    by them and signs in on that store; a vendor store gets its billing customer (provider down → 503,
    nothing committed). `password` must pass the policy (12..256 characters, zxcvbn score >= 3; 400
    otherwise); `accept_tos` must be true. Requires `Idempotency-Key`."""
    result = await service.register(session, rt, body, billing=billing)
    _no_store(response, result.access_token)
    return {"data": result}


@router.post(
    "/login",
    response_model=DataResponse[LoginResult],
    responses=error_responses(400, 401, 429, s401="UNAUTHORIZED `invalid credentials`."),
    summary="Log in; the first store by name becomes the active store",
)
async def login(
    body: LoginIn, response: Response, session: DbSession, rt: IdentityRuntime, ip: LoginIp
) -> dict[str, Any]:
    """Returns the caller's stores; system users (agents) get no store claims."""
    result = await service.login(session, rt, body, ip, via="login")
    _no_store(response, result.access_token)
    return {"data": result}


@router.post(
    "/refresh",
    response_model=DataResponse[RefreshResult],
    responses=error_responses(400, 401),
    summary="Rotate the session: new access and refresh tokens",
)
async def refresh(
    body: RefreshIn,
    credentials: BearerCredentials,
    response: Response,
    session: DbSession,
    rt: IdentityRuntime,
) -> dict[str, Any]:
    """`Authorization` carries the current access token (its expiry is ignored). The refresh token is single
    use: presenting an already-rotated one revokes the whole session."""
    result = await service.refresh(session, rt, bearer_token(credentials), body.refresh_token)
    _no_store(response, result.access_token)
    return {"data": result}


@router.post(
    "/logout",
    response_model=DataResponse[LogoutResult],
    responses=error_responses(401),
    summary="End the session of this access token",
)
async def logout(credentials: BearerCredentials, rt: IdentityRuntime) -> dict[str, Any]:
    """The access token stops working at once; an already-ended session is a success."""
    await service.logout(rt, bearer_token(credentials))
    return {"data": {"status": "logged_out"}}


@router.post(
    "/switch-store",
    response_model=DataResponse[SwitchStoreResult],
    responses=error_responses(
        400, 401, 403, s403="FORBIDDEN `store membership required` or `store membership inactive`."
    ),
    summary="Make another of the caller's stores the active store",
)
async def switch_store(
    body: SwitchStoreIn, user: CurrentUser, response: Response, session: DbSession, rt: IdentityRuntime
) -> dict[str, Any]:
    """Rotates the session: use the returned tokens from now on."""
    result = await service.switch_store(session, rt, user.user_id, user.jti, body.store_id)
    _no_store(response, result.access_token)
    return {"data": result}


@router.post(
    "/update-password",
    response_model=DataResponse[TokenBundle],
    responses=error_responses(400, 401, 429),
    summary="Change the caller's password",
)
async def update_password(
    *,
    body: UpdatePasswordIn,
    user: AuthenticatedUser,
    request: Request,
    response: Response,
    session: DbSession,
    rt: IdentityRuntime,
) -> dict[str, Any]:
    """Allowed while a password change is required. `new_password` must pass the policy (12..256
    characters, zxcvbn score >= 3) and differ from the current one (400 otherwise); a wrong
    `current_password` is a 401. Revokes every other session and rotates this one."""
    ip = client_ip(request.scope, rt.settings.trusted_proxy_hops, rt.settings.proxy_networks)
    result = await service.update_password(
        session, rt, user_id=user.user_id, jti=user.jti, store_id=user.store_id, body=body, ip=ip
    )
    _no_store(response, result.access_token)
    return {"data": result}


@admin_auth_router.post(
    "/login",
    response_model=DataResponse[AdminLoginResult],
    responses=error_responses(
        400, 401, 429, s401="UNAUTHORIZED `invalid credentials` (also for non-admins)."
    ),
    summary="Admin log in",
)
async def admin_login(
    body: LoginIn, response: Response, session: DbSession, rt: IdentityRuntime, ip: LoginIp
) -> dict[str, Any]:
    """Only users with system role `admin`."""
    result = await service.login(session, rt, body, ip, via="admin_login")
    _no_store(response, result.access_token)
    return {"data": result}


@dev_admin_router.post(
    "/register",
    status_code=201,
    response_model=DataResponse[AdminLoginResult],
    responses=error_responses(400, 409, 429),
    summary="Create an admin (not available when APP_ENV=prod)",
)
async def admin_register(
    body: AdminRegisterIn, response: Response, session: DbSession, rt: IdentityRuntime, ip: RegisterIp
) -> dict[str, Any]:
    """Development convenience; production admins come from `packfinderz users create --role admin`.
    `password` must pass the policy (12..256 characters, zxcvbn score >= 3); an existing email is a 409."""
    result = await service.register_admin(session, rt, body, ip)
    _no_store(response, result.access_token)
    return {"data": result}


@admin_users_router.get(
    "",
    response_model=PageEnvelope[UserDTO],
    responses=error_responses(400, 401, 403),
    summary="List users",
)
async def list_users(
    _admin: AdminUser,
    session: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
    email: Annotated[str | None, Query(max_length=254, description="Email prefix.")] = None,
    system_role: Annotated[Literal["agent", "admin"] | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    """Newest first; filters combine."""
    items, cursor = await service.list_users(
        session, page, email_prefix=email, system_role=system_role, is_active=is_active
    )
    return {"data": {"items": items, "next_cursor": cursor}}


@admin_users_router.get(
    "/{user_id}",
    response_model=DataResponse[AdminUserDTO],
    responses=error_responses(400, 401, 403, 404),
    summary="A user with their store memberships",
)
async def get_user(user_id: uuid.UUID, _admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """404 when the user does not exist."""
    return {"data": await service.get_user(session, user_id)}


@admin_users_router.post(
    "/{user_id}/reset-password",
    response_model=DataResponse[ResetPasswordResult],
    responses=error_responses(400, 401, 403, 404),
    summary="Give a user a temporary password",
)
async def reset_password(
    user_id: uuid.UUID, admin: AdminUser, response: Response, session: DbSession, rt: IdentityRuntime
) -> dict[str, Any]:
    """The temporary password is shown once; the user must change it; all their sessions are revoked."""
    result = await service.admin_reset_password(session, rt, admin.actor(), user_id)
    _no_store(response)
    return {"data": result}
