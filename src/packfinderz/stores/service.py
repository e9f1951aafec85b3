"""Store profile and member rules (identity.md §8)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import service as audit
from packfinderz.auth import repository as users
from packfinderz.auth.deps import AuthContext, StoreCtx
from packfinderz.events.outbox import Actor
from packfinderz.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from packfinderz.kit.geo import distance_m
from packfinderz.kit.pagination import PageParams
from packfinderz.kit.security import Passwords, normalize_email, temporary_password
from packfinderz.licenses import repository as licenses
from packfinderz.media import repository as media_repository
from packfinderz.media.attachments import reconcile
from packfinderz.models.identity import Store
from packfinderz.models.licenses import License
from packfinderz.stores import repository
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
    invitation_dto,
    public_store_dto,
    store_dto,
    store_summary,
    store_user_dto,
)


async def _licenses(session: AsyncSession, store: Store) -> list[License]:
    return (await licenses.licenses_of_stores(session, [store.id]))[store.id]


async def _dto(session: AsyncSession, store: Store) -> StoreDTO:
    owner = await users.by_id(session, store.owner_user_id)
    assert owner is not None  # owner_user_id is a RESTRICT foreign key
    return store_dto(store, owner, await _licenses(session, store))


async def my_store(session: AsyncSession, ctx: StoreCtx) -> StoreDTO:
    """The active store as its members see it."""
    return await _dto(session, ctx.store)


async def update_store(session: AsyncSession, ctx: StoreCtx, body: StoreUpdateIn) -> StoreDTO:
    """Apply the fields present in the body (null clears); address and type never change here."""
    sent = body.model_fields_set
    if "delivery_radius_meters" in sent and ctx.store_type != "vendor":
        raise ValidationFailed(
            details={"delivery_radius_meters": "only vendor stores have a delivery radius"}
        )
    changes: dict[str, Any] = {}
    for name in sent:
        value = getattr(body, name)
        if name == "email" and value is not None:
            value = normalize_email(value)
        elif name == "social" and value is not None:
            value = value.model_dump(exclude_none=True)
        elif name == "categories":
            value = list(dict.fromkeys(value or []))  # de-duplicated, first-seen order
        changes[name] = value
    store = await repository.get_store(session, ctx.store_id, lock=True)
    assert store is not None  # the store context just read it
    for field, (url_field, attachment) in STORE_IMAGES.items():
        if field in changes:
            changes[url_field] = await _store_image(session, store, field, attachment, changes[field])
    if changes:
        store = await repository.update_store(session, store, changes)
    return await _dto(session, store)


# PATCH field -> (copied URL column, attachment type)
STORE_IMAGES = {
    "logo_media_id": ("logo_url", "store_logo"),
    "banner_media_id": ("banner_url", "store_banner"),
}


async def _store_image(
    session: AsyncSession, store: Store, field: str, attachment: str, media_id: uuid.UUID | None
) -> str | None:
    """Check a new logo/banner (this store's uploaded `store` image), re-attach it; its public URL."""
    url = None
    if media_id is not None:
        media = (await media_repository.media_by_ids(session, [media_id])).get(media_id)
        # Missing and another store's answer alike (no probing, issue #17), and as the licenses do: a 404.
        if media is None or media.store_id != store.id:
            raise NotFound("media not found", {field: "media not found"})
        if media.kind != "store":
            raise ValidationFailed(details={field: "must be media of kind store"})
        if not media.readable:
            raise Conflict("media not ready")
        url = media.public_url
    await reconcile(
        session,
        entity_type=attachment,
        entity_id=store.id,
        store_id=store.id,
        old_media_ids=[getattr(store, field)],
        new_media_ids=[media_id],
    )
    return url


async def list_members(
    session: AsyncSession, ctx: StoreCtx, page: PageParams
) -> tuple[list[StoreUserDTO], str | None]:
    """The active store's members, newest first."""
    rows, cursor = await repository.members_page(session, ctx.store_id, page)
    return [store_user_dto(m, u) for m, u in rows], cursor


INVITATION_TTL = timedelta(days=7)


async def invite(
    session: AsyncSession, passwords: Passwords, ctx: StoreCtx, body: InviteIn
) -> tuple[InviteResult, bool]:
    """Invite by email; (result, created). The answer never tells whether the email had an account.

    A new invitation always carries a one-time temporary password: the first password of an invitee who
    had no account, and a value that opens nothing for one who had. The membership stays `invited` until
    the invitee accepts it (7 days). System accounts get the same answer and an invitation they can never
    accept (issue #17: no account discovery).
    """
    if body.role == "owner" and ctx.role != "owner":
        raise Forbidden("insufficient store role")
    # Member changes are serialized per store (the last-owner rule reads the other members).
    await repository.get_store(session, ctx.store_id, lock=True)
    email = normalize_email(body.email)
    temporary = temporary_password()
    # Hashed whether or not it becomes a password, so both answers cost the same time.
    temporary_hash = await passwords.hash(temporary)
    user = await users.by_email(session, email)
    created_user = False
    if user is None:
        user = await users.insert_user_if_absent(
            session,
            email=email,
            password_hash=temporary_hash,
            first_name=body.first_name,
            last_name=body.last_name,
            must_change_password=True,
        )
        created_user = user is not None
        if user is None:  # created concurrently (e.g. invited into another store): an existing user now
            user = await users.by_email(session, email)
            assert user is not None
    expires_at = datetime.now(UTC) + INVITATION_TTL
    existing = await repository.member_with_user(session, ctx.store_id, user.id)
    if existing is not None:
        membership, _ = existing
        lapsed = membership.status == "invited" and (
            membership.invite_expires_at is None or membership.invite_expires_at <= datetime.now(UTC)
        )
        if lapsed:  # a lapsed invitation is sent again, as typed now
            membership.role = body.role
            membership.invite_first_name = body.first_name
            membership.invite_last_name = body.last_name
            membership.invite_expires_at = expires_at
            membership.invited_by_user_id = ctx.user_id
            await session.flush()
            await _audit_invited(session, ctx, membership.id, user.id, body.role, user_created=False)
        return InviteResult(membership=store_user_dto(membership, user), temporary_password=None), False
    membership = await repository.insert_membership(
        session,
        store_id=ctx.store_id,
        user_id=user.id,
        role=body.role,
        status="invited",
        invited_by_user_id=ctx.user_id,
        invite_first_name=body.first_name,
        invite_last_name=body.last_name,
        invite_expires_at=expires_at,
    )
    await _audit_invited(session, ctx, membership.id, user.id, body.role, user_created=created_user)
    return InviteResult(membership=store_user_dto(membership, user), temporary_password=temporary), True


async def _audit_invited(
    session: AsyncSession,
    ctx: StoreCtx,
    membership_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    *,
    user_created: bool,
) -> None:
    await audit.record(
        session,
        action="member.invited",
        target_type="membership",
        target_id=membership_id,
        actor=ctx.actor(),
        payload={"user_id": str(user_id), "role": role, "user_created": user_created},
    )


async def my_invitations(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> tuple[list[InvitationDTO], str | None]:
    """The caller's pending, unexpired invitations, newest first (system users never have any)."""
    if auth.system_role is not None:
        return [], None
    rows, cursor = await repository.pending_invitations(session, auth.user_id, page)
    return [invitation_dto(m, store) for m, store in rows], cursor


async def answer_invitation(
    session: AsyncSession, auth: AuthContext, invitation_id: uuid.UUID, *, accept: bool
) -> InvitationDecision:
    """Accept (membership becomes active) or decline (it is deleted) one of the caller's invitations.

    Another user's invitation, or one already declined, is 404; a lapsed one is 409; accepting an
    already accepted invitation answers as the first time.
    """
    found = None if auth.system_role else await repository.invitation_of(session, invitation_id, auth.user_id)
    if found is None:
        raise NotFound("invitation not found")
    membership, store = found
    if membership.status == "active":
        if accept:
            return InvitationDecision(id=membership.id, store_id=store.id, status="active")
        raise Conflict("invitation already accepted; leave the store instead")
    if membership.invite_expires_at is None or membership.invite_expires_at <= datetime.now(UTC):
        raise Conflict("invitation expired; ask the store to invite you again")
    actor = Actor(auth.user_id, membership.role, store.id)
    if accept:
        membership.status = "active"
        membership.invite_expires_at = None
        await session.flush()
    else:
        await repository.delete_membership(session, membership.id)
    await audit.record(
        session,
        action="member.joined" if accept else "member.declined",
        target_type="membership",
        target_id=membership.id,
        actor=actor,
        payload={"user_id": str(auth.user_id), "role": membership.role},
    )
    return InvitationDecision(id=membership.id, store_id=store.id, status="active" if accept else "declined")


async def remove_member(session: AsyncSession, ctx: StoreCtx, user_id: uuid.UUID) -> None:
    """Delete a membership; owners need an owner caller and can never leave the store ownerless."""
    await repository.get_store(session, ctx.store_id, lock=True)
    found = await repository.member_with_user(session, ctx.store_id, user_id)
    if found is None:
        raise NotFound("member not found")
    membership, _ = found
    if membership.role == "owner":
        if ctx.role != "owner":
            raise Forbidden("insufficient store role")
        if await repository.count_other_active_owners(session, ctx.store_id, user_id) == 0:
            raise Conflict("cannot remove last owner")
    await repository.delete_membership(session, membership.id)
    await audit.record(
        session,
        action="member.removed",
        target_type="membership",
        target_id=membership.id,
        actor=ctx.actor(),
        payload={"user_id": str(user_id), "role": membership.role},
    )


async def public_store(session: AsyncSession, ctx: StoreCtx, store_id: uuid.UUID) -> PublicStoreDTO:
    """Another store's public profile; a buyer only sees vendors that are visible to it."""
    store = await repository.get_store(session, store_id)
    if store is None:
        raise NotFound("store not found")
    buyer_meets_vendor = ctx.store_type == "buyer" and store.type == "vendor" and store.id != ctx.store_id
    if buyer_meets_vendor and not vendor_visible_to_buyer(store, ctx.store):
        raise NotFound("store not found")
    return public_store_dto(store, await _licenses(session, store))


async def my_stores(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> tuple[list[StoreSummary], str | None]:
    """The stores the caller is an active member of (system users have none)."""
    rows, cursor = await repository.my_stores_page(session, auth.user_id, page)
    return [store_summary(store, membership.role) for store, membership in rows], cursor


def vendor_visible_to_buyer(vendor: Store, buyer: Store) -> bool:
    """The vendor visibility gate of commerce.md §3 with the buyer's own state as the requested state."""
    if vendor.type != "vendor" or vendor.kyc_status != "verified" or not vendor.subscription_active:
        return False
    if vendor.address_state != buyer.address_state:
        return False
    if vendor.delivery_radius_meters == 0:
        return True
    return distance_m(vendor.lat, vendor.lng, buyer.lat, buyer.lng) <= vendor.delivery_radius_meters


def delivery_refusal(
    buyer: Store, vendors: Sequence[Store], address: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Why an order may not ship to this address, or None (issue #17: cannabis stays inside the state line).

    The drop-off must be in the buyer's licensed state (its store's state, the one its licenses and the
    vendor gate are checked against), and within the delivery radius of every vendor that has one.
    """
    state = str(address.get("state", "")).upper()
    country = str(address.get("country", "US")).upper()
    if state != buyer.address_state or country != buyer.address_country:
        return {
            "reason": "out_of_state",
            "message": f"shipping address must be in the buyer's licensed state ({buyer.address_state})",
        }
    lat, lng = address.get("lat"), address.get("lng")
    far = sorted(
        str(vendor.id)
        for vendor in vendors
        if vendor.delivery_radius_meters > 0
        and (
            lat is None
            or lng is None
            or distance_m(vendor.lat, vendor.lng, float(lat), float(lng)) > vendor.delivery_radius_meters
        )
    )
    if far:
        return {
            "reason": "out_of_delivery_radius",
            "message": "shipping address is outside the delivery radius of a vendor",
            "vendor_store_ids": far,
        }
    return None
