"""The one KYC rule (identity.md §10.5), applied by every path that changes a store's licenses."""

from __future__ import annotations

import uuid
from collections.abc import Set

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.errors import NotFound
from packfinderz.licenses import repository

SUSPENDED = "suspended"


def kyc_from_licenses(statuses: Set[str]) -> str:
    """Any verified -> verified; else any rejected -> rejected; else any expired -> expired; else pending."""
    for status, kyc in (("verified", "verified"), ("rejected", "rejected"), ("expired", "expired")):
        if status in statuses:
            return kyc
    return "pending_verification"


async def recompute_kyc(session: AsyncSession, store_id: uuid.UUID, *, unsuspend: bool = False) -> str:
    """Lock the store, derive its KYC status from its licenses and store it; returns the status.

    `suspended` is sticky: only an admin unsuspend (`unsuspend=True`) recomputes a suspended store.
    """
    store = await repository.lock_store(session, store_id)
    if store is None:
        raise NotFound("store not found")
    if store.kyc_status == SUSPENDED and not unsuspend:
        return SUSPENDED
    kyc = kyc_from_licenses(await repository.statuses_of_store(session, store_id))
    if kyc != store.kyc_status:
        await repository.set_kyc_status(session, store, kyc)
    return kyc
