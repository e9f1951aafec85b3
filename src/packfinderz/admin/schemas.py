"""Admin store request and response models (identity.md §9.1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from packfinderz.kit.schemas import Input, not_nullable
from packfinderz.licenses.schemas import LICENSE_EXAMPLE, LicenseDTO
from packfinderz.stores.schemas import STORE_EXAMPLE, STORE_USER_EXAMPLE, StoreDTO, StoreUserDTO

ADMIN_STORE_EXAMPLE: dict[str, Any] = {
    **STORE_EXAMPLE,
    "subscription_override": {
        "value": True,
        "reason": "Comped for the Denver launch",
        "set_by_user_id": "0b1f5c9e-7d0a-4d35-9a39-3f4ad2f8e611",
        "set_at": "2026-12-07T15:30:00Z",
    },
    "members": [STORE_USER_EXAMPLE],
    "licenses": [{**LICENSE_EXAMPLE, "status": "verified", "decided_at": "2026-12-07T15:20:00Z"}],
}


class SubscriptionOverride(BaseModel):
    """An operator's override of `subscription_active`."""

    value: bool
    reason: str | None
    set_by_user_id: uuid.UUID | None
    set_at: datetime | None


class AdminStoreDTO(StoreDTO):
    """StoreDTO + the subscription override, every member and every license (full LicenseDTO)."""

    model_config = ConfigDict(json_schema_extra={"examples": [ADMIN_STORE_EXAMPLE]})

    subscription_override: SubscriptionOverride | None
    members: list[StoreUserDTO]
    licenses: list[LicenseDTO]  # type: ignore[assignment]


class AdminStorePatch(Input):
    """PATCH /api/admin/v1/stores/{id}: at least one change field, and always a reason.

    `subscription_active: null` clears the override (vendor stores only); `badge: null` removes the badge;
    `suspended` cannot be null.
    """

    model_config = ConfigDict(
        json_schema_extra={
            # `reason` and at least one change field (unknown fields are refused).
            "minProperties": 2,
            "examples": [{"suspended": True, "reason": "License expired; store suspended pending renewal."}],
        }
    )

    suspended: Annotated[bool, Strict()] | None = Field(default=None, json_schema_extra=not_nullable)
    subscription_active: Annotated[bool, Strict()] | None = None
    badge: Literal["top_brand", "quality_verified"] | None = None
    reason: Annotated[
        str,
        Strict(),
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"\S"),
    ]
