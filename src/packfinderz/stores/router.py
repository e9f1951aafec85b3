"""HTTP: /api/v1/stores (identity.md §8). `/me…` and `/my` are declared before `/{store_id}`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from packfinderz.auth.deps import CurrentUser, StoreContext, StoreCtx, require_store_roles
from packfinderz.auth.runtime import IdentityRuntime
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.stores import service
from packfinderz.stores.schemas import (
    InvitationDecision,
    InvitationDTO,
    InviteIn,
    InviteResult,
    PublicStoreDTO,
    StoreDTO,
    StoreSummary,
    StoreUpdateIn,
    StoreUserDTO,
)

router = APIRouter(prefix="/api/v1/stores", tags=["stores"])
# The invitee's side of an invitation: any signed-in user, no active store needed (issue #17).
invitations_router = APIRouter(prefix="/api/v1/invitations", tags=["stores"])

StoreManager = Annotated[StoreCtx, require_store_roles("owner", "manager")]
Page = Annotated[PageParams, Depends(page_params)]


@router.get(
    "/me",
    response_model=DataResponse[StoreDTO],
    responses=error_responses(401, 403),
    summary="The active store",
)
async def get_my_store(ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """Any member of the active store."""
    return {"data": await service.my_store(session, ctx)}


@router.patch(
    "/me",
    response_model=DataResponse[StoreDTO],
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        s404="NOT_FOUND `media not found`: `logo_media_id`/`banner_media_id` is not a media of this store.",
        s409="CONFLICT `media not ready`: the logo or banner media is not uploaded yet.",
    ),
    summary="Update the active store's profile",
)
async def update_my_store(body: StoreUpdateIn, ctx: StoreManager, session: DbSession) -> dict[str, Any]:
    """Owner or manager. Absent fields are unchanged, `null` clears (except `company_name` and
    `delivery_radius_meters`, which cannot be null); `address` and `type` cannot change;
    `delivery_radius_meters` is for vendors only (400 for a buyer store). `logo_media_id` and
    `banner_media_id` must be uploaded media of kind `store` of this store."""
    return {"data": await service.update_store(session, ctx, body)}


@router.get(
    "/me/users",
    response_model=PageEnvelope[StoreUserDTO],
    responses=error_responses(400, 401, 403),
    summary="Members of the active store",
)
async def list_members(ctx: StoreManager, session: DbSession, page: Page) -> dict[str, Any]:
    """Owner or manager; newest first."""
    items, cursor = await service.list_members(session, ctx, page)
    return {"data": {"items": items, "next_cursor": cursor}}


@router.post(
    "/me/users/invite",
    status_code=201,
    response_model=DataResponse[InviteResult],
    responses={
        200: {"model": DataResponse[InviteResult], "description": "Already a member: unchanged."},
        **error_responses(
            400,
            401,
            403,
            409,
            422,
            s403="FORBIDDEN: only owners invite owners.",
            s409="IDEMPOTENCY_REQUEST_IN_PROGRESS.",
        ),
    },
    summary="Invite a user to the active store",
)
@idempotent()
async def invite_member(
    body: InviteIn, ctx: StoreManager, response: Response, session: DbSession, rt: IdentityRuntime
) -> dict[str, Any]:
    """Owner or manager (owners only for role `owner`). The answer is the same whether or not the email has
    an account: 201 with the `invited` membership (names as typed) and a one-time `temporary_password` (the
    first password of an invitee without an account; an existing user's password is never touched). The
    invitee accepts or declines through `/api/v1/invitations` within 7 days. Already a member or invited:
    200, unchanged (a lapsed invitation is renewed). Requires `Idempotency-Key`."""
    result, created = await service.invite(session, rt.passwords, ctx, body)
    if not created:
        response.status_code = 200
    if result.temporary_password is not None:
        response.headers["Cache-Control"] = "no-store"
    return {"data": result}


@router.delete(
    "/me/users/{user_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        s403="FORBIDDEN: only owners remove owners.",
        s409="CONFLICT `cannot remove last owner`.",
    ),
    summary="Remove a member from the active store",
)
async def remove_member(user_id: uuid.UUID, ctx: StoreManager, session: DbSession) -> Response:
    """Owner or manager; their tokens for this store stop working at once."""
    await service.remove_member(session, ctx, user_id)
    return Response(status_code=204)


@router.get(
    "/my",
    response_model=PageEnvelope[StoreSummary],
    responses=error_responses(400, 401, 403),
    summary="The stores the caller belongs to",
)
async def my_stores(user: CurrentUser, session: DbSession, page: Page) -> dict[str, Any]:
    """Active memberships, newest first; use with switch-store. Needs no active store."""
    items, cursor = await service.my_stores(session, user, page)
    return {"data": {"items": items, "next_cursor": cursor}}


@router.get(
    "/{store_id}",
    response_model=DataResponse[PublicStoreDTO],
    responses=error_responses(400, 401, 403, 404),
    summary="A store's public profile",
)
async def get_store(store_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """Any store user; a buyer sees a vendor only through the vendor visibility gate (else 404)."""
    return {"data": await service.public_store(session, ctx, store_id)}


@invitations_router.get(
    "",
    response_model=PageEnvelope[InvitationDTO],
    responses=error_responses(400, 401, 403),
    summary="The caller's pending store invitations",
)
async def my_invitations(user: CurrentUser, session: DbSession, page: Page) -> dict[str, Any]:
    """Unexpired invitations addressed to the caller, newest first. Needs no active store."""
    items, cursor = await service.my_invitations(session, user, page)
    return {"data": {"items": items, "next_cursor": cursor}}


@invitations_router.post(
    "/{invitation_id}/accept",
    response_model=DataResponse[InvitationDecision],
    responses=error_responses(400, 401, 403, 404, 409, s409="CONFLICT: the invitation expired."),
    summary="Accept a store invitation",
)
async def accept_invitation(
    invitation_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The membership becomes `active`; switch to the store with `/api/v1/auth/switch-store`."""
    return {"data": await service.answer_invitation(session, user, invitation_id, accept=True)}


@invitations_router.post(
    "/{invitation_id}/decline",
    response_model=DataResponse[InvitationDecision],
    responses=error_responses(
        400, 401, 403, 404, 409, s409="CONFLICT: the invitation expired, or was already accepted."
    ),
    summary="Decline a store invitation",
)
async def decline_invitation(
    invitation_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The invitation is removed; the store no longer lists it."""
    return {"data": await service.answer_invitation(session, user, invitation_id, accept=False)}
