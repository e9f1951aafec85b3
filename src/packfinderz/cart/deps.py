"""Buyer eligibility for cart, checkout and retry (commerce.md §3): a buyer store whose KYC is verified."""

from __future__ import annotations

from typing import Annotated

from packfinderz.auth.deps import StoreCtx, require_store

VerifiedBuyer = Annotated[StoreCtx, require_store("buyer", verified=True)]
