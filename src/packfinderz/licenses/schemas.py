"""License request and response models (identity.md §10.1)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints, WithJsonSchema

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


LicenseDate = Annotated[
    datetime,
    BeforeValidator(parse_license_date),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}],
            "description": "RFC 3339 timestamp with an offset, or a `YYYY-MM-DD` date (midnight UTC).",
        }
    ),
]
# Examples (OpenAPI) from the demo marketplace (`packfinderz seed --demo`).
_STORE_ID = "4f65fc91-bc1b-44be-8798-55ff85b0d1b5"
_MEDIA_ID = "5e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b"
LICENSE_EXAMPLE: dict[str, Any] = {
    "id": "9a3e0c55-1f7b-4c1e-8f0e-52d4a1b7c9e3",
    "store_id": _STORE_ID,
    "user_id": "c48e5aae-413c-4f34-9dc5-6ebd4d07f144",
    "status": "pending",
    "status_reason": None,
    "decided_at": None,
    "media_id": _MEDIA_ID,
    "issuing_state": "CO",
    "type": "grower",
    "number": "403-00123",
    "issue_date": "2025-07-01T00:00:00Z",
    "expiration_date": "2027-06-30T00:00:00Z",
    "created_at": "2026-12-07T15:10:00Z",
    "updated_at": "2026-12-07T15:10:00Z",
    "document_url": "http://localhost:8080/api/storage/v1/objects/4f65fc91-bc1b-44be-8798-55ff85b0d1b5/"
    "license_doc/5e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b.pdf?expires=1796659800&sig=3f9a0c1d2e",
}
ADMIN_LICENSE_EXAMPLE: dict[str, Any] = {
    **LICENSE_EXAMPLE,
    "status": "verified",
    "decided_at": "2026-12-07T15:20:00Z",
    "decided_by_user_id": "0b1f5c9e-7d0a-4d35-9a39-3f4ad2f8e611",
    "store": {"id": _STORE_ID, "company_name": "Mile High Growers", "type": "vendor"},
    "same_number_licenses": [],
}

# `pattern` (not blank) is what strip + min_length enforce, stated for the document.
Reason = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"\S"),
]


class LicenseIn(Input):
    """POST /api/v1/licenses."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "media_id": _MEDIA_ID,
                    "issuing_state": "CO",
                    "type": "grower",
                    "number": "403-00123",
                    "issue_date": "2025-07-01",
                    "expiration_date": "2027-06-30T00:00:00Z",
                }
            ]
        }
    )

    media_id: uuid.UUID
    issuing_state: Annotated[
        str, Strict(), StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
    ]
    type: LicenseType
    number: Annotated[
        str,
        Strict(),
        StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=100, pattern=r"\S"),
    ]
    issue_date: LicenseDate | None = None
    expiration_date: LicenseDate | None = None


class VerifyIn(Input):
    """POST /api/admin/v1/licenses/{id}/verify; a reason is required to reject."""

    model_config = ConfigDict(
        json_schema_extra={
            # A rejection needs a reason (the service answers 400 without one).
            "if": {"properties": {"decision": {"const": "rejected"}}, "required": ["decision"]},
            "then": {"properties": {"reason": {"type": "string"}}, "required": ["reason"]},
            "examples": [
                {"decision": "rejected", "reason": "The document is unreadable; upload a clearer scan."}
            ],
        }
    )

    decision: Literal["verified", "rejected"]
    reason: Reason | None = None


class LicenseDTO(BaseModel):
    """A license without `decided_by_user_id`/`expiry_warned_at`, plus a fresh signed document URL."""

    model_config = ConfigDict(json_schema_extra={"examples": [LICENSE_EXAMPLE]})

    id: uuid.UUID
    store_id: uuid.UUID
    user_id: uuid.UUID
    status: LicenseStatus
    status_reason: str | None
    decided_at: datetime | None
    media_id: uuid.UUID
    issuing_state: str
    type: LicenseType
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
    type: Literal["buyer", "vendor"]


class SameNumberLicense(BaseModel):
    """Another license submitted with the same state and number (a possible squatter, or the real one)."""

    id: uuid.UUID
    store_id: uuid.UUID
    status: LicenseStatus


class AdminLicenseDTO(LicenseDTO):
    """What admins see: the decider, the license's store, and other submissions of the same number."""

    model_config = ConfigDict(json_schema_extra={"examples": [ADMIN_LICENSE_EXAMPLE]})

    decided_by_user_id: uuid.UUID | None
    store: LicenseStore
    same_number_licenses: list[SameNumberLicense] = Field(
        description="Other licenses of this issuing state and number, any store and status, oldest first; "
        "only one of them can ever be verified at a time."
    )
