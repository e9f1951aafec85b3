"""Admin store request and response models (identity.md §9.1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Strict, StringConstraints

from packfinderz.kit.schemas import Input
from packfinderz.licenses.schemas import LicenseDTO
from packfinderz.stores.schemas import StoreDTO, StoreUserDTO


class SubscriptionOverride(BaseModel):
    """An operator's override of `subscription_active`."""

    value: bool
    reason: str | None
    set_by_user_id: uuid.UUID | None
    set_at: datetime | None


class AdminStoreDTO(StoreDTO):
    """StoreDTO + the subscription override, every member and every license (full LicenseDTO)."""

    subscription_override: SubscriptionOverride | None
    members: list[StoreUserDTO]
    licenses: list[LicenseDTO]  # type: ignore[assignment]


class AdminStorePatch(Input):
    """PATCH /api/admin/v1/stores/{id}: at least one change field, and always a reason.

    `subscription_active: null` clears the override; `badge: null` removes the badge.
    """

    suspended: Annotated[bool, Strict()] | None = None
    subscription_active: Annotated[bool, Strict()] | None = None
    badge: Literal["top_brand", "quality_verified"] | None = None
    reason: Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
