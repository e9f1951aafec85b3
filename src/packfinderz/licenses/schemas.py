"""License request and response models (identity.md §10.1)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, Strict, StringConstraints

from packfinderz.kit.schemas import Input
from packfinderz.models.licenses import License

LicenseType = Literal["producer", "grower", "dispensary", "merchant"]
LicenseStatus = Literal["pending", "verified", "rejected", "expired"]
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_license_date(value: Any) -> datetime:
    """RFC 3339 (with an offset) or `YYYY-MM-DD` (midnight UTC), as an aware UTC datetime."""
    message = "must be an RFC 3339 timestamp or a YYYY-MM-DD date"
    if not isinstance(value, str):
        raise ValueError(message)
    text = value.strip()
    try:
        if _DAY_RE.match(text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(message) from None
    if parsed.tzinfo is None or "T" not in text.upper():
        raise ValueError(message)
    return parsed.astimezone(UTC)


LicenseDate = Annotated[datetime, BeforeValidator(parse_license_date)]
Reason = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class LicenseIn(Input):
    """POST /api/v1/licenses."""

    media_id: uuid.UUID
    issuing_state: Annotated[
        str, Strict(), StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
    ]
    type: LicenseType
    number: Annotated[
        str, Strict(), StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=100)
    ]
    issue_date: LicenseDate | None = None
    expiration_date: LicenseDate | None = None


class VerifyIn(Input):
    """POST /api/admin/v1/licenses/{id}/verify; a reason is required to reject."""

    decision: Literal["verified", "rejected"]
    reason: Reason | None = None


class LicenseDTO(BaseModel):
    """A license without `decided_by_user_id`/`expiry_warned_at`, plus a fresh signed document URL."""

    id: uuid.UUID
    store_id: uuid.UUID
    user_id: uuid.UUID
    status: str
    status_reason: str | None
    decided_at: datetime | None
    media_id: uuid.UUID
    issuing_state: str
    type: str
    number: str
    issue_date: datetime | None
    expiration_date: datetime | None
    created_at: datetime
    updated_at: datetime
    document_url: str | None

    @classmethod
    def of(cls, license_: License, document_url: str | None) -> LicenseDTO:
        return cls(
            id=license_.id,
            store_id=license_.store_id,
            user_id=license_.user_id,
            status=license_.status,
            status_reason=license_.status_reason,
            decided_at=license_.decided_at,
            media_id=license_.media_id,
            issuing_state=license_.issuing_state,
            type=license_.type,
            number=license_.number,
            issue_date=license_.issue_date,
            expiration_date=license_.expiration_date,
            created_at=license_.created_at,
            updated_at=license_.updated_at,
            document_url=document_url,
        )


class LicenseStore(BaseModel):
    id: uuid.UUID
    company_name: str
    type: str


class SameNumberLicense(BaseModel):
    """Another license submitted with the same state and number (a possible squatter, or the real one)."""

    id: uuid.UUID
    store_id: uuid.UUID
    status: str


class AdminLicenseDTO(LicenseDTO):
    """What admins see: the decider, the license's store, and other submissions of the same number."""

    decided_by_user_id: uuid.UUID | None
    store: LicenseStore
    same_number_licenses: list[SameNumberLicense] = Field(
        description="Other licenses of this issuing state and number, any store and status, oldest first; "
        "only one of them can ever be verified at a time."
    )
