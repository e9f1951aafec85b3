"""Admin store rules (identity.md §9.1): list, inspect, suspend/reinstate, subscription override, badge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.admin import repository
from packfinderz.admin.repository import StoreFilters
from packfinderz.admin.schemas import AdminStoreDTO, AdminStorePatch, SubscriptionOverride
from packfinderz.audit import service as audit
from packfinderz.billing import flag as billing_flag
from packfinderz.events.outbox import Actor
from packfinderz.kit.errors import NotFound, ValidationFailed
from packfinderz.kit.pagination import PageParams
from packfinderz.licenses import repository as licenses_repository
from packfinderz.licenses import service as licenses_service
from packfinderz.licenses.kyc import SUSPENDED, recompute_kyc
from packfinderz.media.files import Files
from packfinderz.models.identity import Store
from packfinderz.models.licenses import License
from packfinderz.notifications import repository as notifications
from packfinderz.stores import repository as stores_repository
from packfinderz.stores.schemas import StoreDTO, StoreLicense, store_dto, store_user_dto

log = structlog.get_logger("admin")

CHANGE_FIELDS = ("suspended", "subscription_active", "badge")


def _store_license(license_: License) -> StoreLicense:
    return StoreLicense(
        id=license_.id,
        number=license_.number,
        type=license_.type,
        issuing_state=license_.issuing_state,
        status=license_.status,
        expiration_date=license_.expiration_date,
    )


async def list_stores(
    session: AsyncSession, filters: StoreFilters, page: PageParams
) -> tuple[list[StoreDTO], str | None, int]:
    """A page of stores as StoreDTO (owners and licenses loaded for the whole page at once)."""
    stores, cursor, total = await repository.stores_page(session, filters, page)
    owners = await repository.users_by_ids(session, [s.owner_user_id for s in stores])
    licenses = await licenses_repository.licenses_of_stores(session, [s.id for s in stores])
    items = [
        store_dto(store, owners[store.owner_user_id]).model_copy(
            update={"licenses": [_store_license(lic) for lic in licenses[store.id]]}
        )
        for store in stores
    ]
    return items, cursor, total


async def _admin_view(session: AsyncSession, files: Files, store: Store) -> AdminStoreDTO:
    owners = await repository.users_by_ids(session, [store.owner_user_id])
    members = await repository.members_of(session, store.id)
    licenses = (await licenses_repository.licenses_of_stores(session, [store.id]))[store.id]
    override = None
    if store.subscription_override is not None:
        override = SubscriptionOverride(
            value=store.subscription_override,
            reason=store.subscription_override_reason,
            set_by_user_id=store.subscription_override_by_user_id,
            set_at=store.subscription_override_at,
        )
    return AdminStoreDTO(
        **store_dto(store, owners[store.owner_user_id]).model_dump(exclude={"licenses"}),
        subscription_override=override,
        members=[store_user_dto(m, u) for m, u in members],
        licenses=await licenses_service.to_dtos(session, files, licenses),
    )


async def get_store(session: AsyncSession, files: Files, store_id: uuid.UUID) -> AdminStoreDTO:
    """One store with its override, members and licenses."""
    store = await stores_repository.get_store(session, store_id)
    if store is None:
        raise NotFound("store not found")
    return await _admin_view(session, files, store)


def _check_patch(store: Store, body: AdminStorePatch) -> set[str]:
    sent = body.model_fields_set & set(CHANGE_FIELDS)
    if not sent:
        raise ValidationFailed(details={"body": f"at least one of {', '.join(CHANGE_FIELDS)} is required"})
    if "suspended" in sent and body.suspended is None:
        raise ValidationFailed(details={"suspended": "may not be null"})
    if "subscription_active" in sent and store.type != "vendor":
        raise ValidationFailed(details={"subscription_active": "only vendor stores have a subscription"})
    return sent


async def patch_store(
    session: AsyncSession, files: Files, store_id: uuid.UUID, actor: Actor, body: AdminStorePatch
) -> AdminStoreDTO:
    """Suspend or reinstate, override `subscription_active` (null clears), set the badge; unchanged
    values are no-ops. Audited as `store.admin_override`; suspension changes notify the store."""
    store = await stores_repository.get_store(session, store_id, lock=True)
    if store is None:
        raise NotFound("store not found")
    sent = _check_patch(store, body)
    changes: dict[str, dict[str, Any]] = {}

    def change(field: str, before: Any, after: Any) -> None:
        if before != after:
            changes[field] = {"from": before, "to": after}

    kyc_before = store.kyc_status
    if "suspended" in sent:
        if body.suspended and kyc_before != SUSPENDED:
            store.kyc_status = SUSPENDED
        elif not body.suspended and kyc_before == SUSPENDED:
            await recompute_kyc(session, store.id, unsuspend=True)
    change("kyc_status", kyc_before, store.kyc_status)

    if "subscription_active" in sent and body.subscription_active != store.subscription_override:
        change("subscription_override", store.subscription_override, body.subscription_active)
        store.subscription_override = body.subscription_active
        store.subscription_override_reason = body.reason if body.subscription_active is not None else None
        store.subscription_override_by_user_id = (
            actor.user_id if body.subscription_active is not None else None
        )
        store.subscription_override_at = datetime.now(UTC) if body.subscription_active is not None else None
        # The flag rule of billing (money-ads-analytics.md §1.4): COALESCE(override, entitled).
        flag = (
            body.subscription_active
            if body.subscription_active is not None
            else await billing_flag.entitled(session, store.id)
        )
        change("subscription_active", store.subscription_active, flag)
        store.subscription_active = flag

    if "badge" in sent:
        change("badge", store.badge, body.badge)
        store.badge = body.badge

    if changes:
        store = await stores_repository.update_store(session, store, {})
        await audit.record(
            session,
            action="store.admin_override",
            target_type="store",
            target_id=store.id,
            actor=actor,
            payload={"changes": changes, "reason": body.reason},
        )
        if "kyc_status" in changes:
            await _notify_suspension(
                session, store, suspended=store.kyc_status == SUSPENDED, reason=body.reason
            )
        log.info("store.admin_override", store_id=str(store.id), fields=sorted(changes))
    return await _admin_view(session, files, store)


async def _notify_suspension(session: AsyncSession, store: Store, *, suspended: bool, reason: str) -> None:
    title = "Store suspended" if suspended else "Store reinstated"
    verb = "suspended" if suspended else "reinstated"
    await notifications.insert_store_notices(
        session,
        [
            {
                "id": uuid.uuid4(),
                "store_id": store.id,
                "type": "compliance",
                "title": title,
                "message": f"Your store was {verb} by PackFinderz: {reason}",
                "link": None,
            }
        ],
    )
