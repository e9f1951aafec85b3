"""Buyer eligibility for cart, checkout and retry (commerce.md §3): a buyer store whose KYC is verified."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from packfinderz.auth.deps import BuyerStore, StoreCtx
from packfinderz.kit.errors import Forbidden


async def _verified_buyer(ctx: BuyerStore) -> StoreCtx:
    if ctx.kyc_status != "verified":
        raise Forbidden("buyer verification required")
    return ctx


VerifiedBuyer = Annotated[StoreCtx, Depends(_verified_buyer)]
