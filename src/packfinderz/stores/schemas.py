"""Store and member request/response models (identity.md §5, §8)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
)

from packfinderz.kit.schemas import (
    ADDRESS_EXAMPLE,
    Address,
    AsInteger,
    Email,
    Input,
    Name,
    Phone,
    ShortText,
    Url,
    address_of,
    not_nullable,
)
from packfinderz.models.identity import (
    MAX_DELIVERY_RADIUS_METERS,
    Category,
    Store,
    StoreMembership,
    User,
)
from packfinderz.models.licenses import License

StoreType = Literal["buyer", "vendor"]
MemberRole = Literal["owner", "manager", "staff", "ops"]
KycStatus = Literal["pending_verification", "verified", "rejected", "expired", "suspended"]
StoreBadge = Literal["top_brand", "quality_verified"]
LicenseStatusName = Literal["pending", "verified", "rejected", "expired"]
LicenseTypeName = Literal["producer", "grower", "dispensary", "merchant"]

# Examples (OpenAPI) from the demo marketplace (`packfinderz seed --demo`).
STORE_ID_EXAMPLE = "4f65fc91-bc1b-44be-8798-55ff85b0d1b5"
OWNER_ID_EXAMPLE = "c48e5aae-413c-4f34-9dc5-6ebd4d07f144"
_PUBLIC_EXAMPLE: dict[str, Any] = {
    "id": STORE_ID_EXAMPLE,
    "type": "vendor",
    "company_name": "Mile High Growers",
    "dba_name": None,
    "description": "Small-batch indoor flower from Denver.",
    "phone": "+13035550142",
    "email": "orders@milehighgrowers.example.com",
    "kyc_status": "verified",
    "address": ADDRESS_EXAMPLE,
    "delivery_radius_meters": 80000,
    "social": {"website": "https://milehighgrowers.example.com"},
    "logo_url": None,
    "banner_url": None,
    "ratings": {"count": 3, "average": 4.67, "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2}},
    "categories": ["flower", "pre_roll"],
    "badge": None,
    "created_at": "2026-12-07T14:46:42.970967Z",
    "updated_at": "2026-12-07T14:48:06.725475Z",
}
STORE_EXAMPLE: dict[str, Any] = {
    **_PUBLIC_EXAMPLE,
    "subscription_active": True,
    "logo_media_id": None,
    "banner_media_id": None,
    "billing_customer_id": "sbx_customer_167af80c16b73673e548",
    "last_active_at": "2026-12-07T14:48:06.725475Z",
    "owner": {
        "id": OWNER_ID_EXAMPLE,
        "full_name": "Mile Owner",
        "email": "mile-high-growers@demo.example.com",
    },
    "licenses": [
        {
            "id": "9a3e0c55-1f7b-4c1e-8f0e-52d4a1b7c9e3",
            "number": "403-00123",
            "type": "grower",
            "issuing_state": "CO",
            "status": "verified",
            "expiration_date": "2027-06-30T00:00:00Z",
        }
    ],
}
STORE_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": STORE_ID_EXAMPLE,
    "name": "Mile High Growers",
    "type": "vendor",
    "role": "owner",
    "logo_url": None,
}
STORE_USER_EXAMPLE: dict[str, Any] = {
    "membership_id": "f6cd36a6-527f-406d-9339-fae49eeedecf",
    "store_id": STORE_ID_EXAMPLE,
    "user_id": OWNER_ID_EXAMPLE,
    "email": "mile-high-growers@demo.example.com",
    "first_name": "Mile",
    "last_name": "Owner",
    "role": "owner",
    "membership_status": "active",
    "invited_by_user_id": None,
    "invite_expires_at": None,
    "last_login_at": "2026-12-07T14:48:07.732017Z",
    "created_at": "2026-12-07T14:46:42.970967Z",
}
_INVITED_EXAMPLE: dict[str, Any] = {
    **STORE_USER_EXAMPLE,
    "membership_id": "2d7b9c1e-5a4f-4e8b-b3c6-0f9e8d7c6b5a",
    "user_id": "8e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
    "email": "budtender@milehighgrowers.example.com",
    "first_name": "Sam",
    "last_name": "Rivera",
    "role": "staff",
    "membership_status": "invited",
    "invited_by_user_id": OWNER_ID_EXAMPLE,
    "invite_expires_at": "2026-12-14T15:00:00Z",
    "last_login_at": None,
    "created_at": "2026-12-07T15:00:00Z",
}

# --- stores -------------------------------------------------------------------------------------


class Social(Input):
    """Social links of a store profile."""

    twitter: Url | None = None
    facebook: Url | None = None
    instagram: Url | None = None
    linkedin: Url | None = None
    youtube: Url | None = None
    website: Url | None = None


class Ratings(BaseModel):
    """Visible review histogram; `average` rounded half-up to 2 decimals, null without reviews."""

    count: int
    average: float | None
    histogram: dict[str, int]


class StoreOwner(BaseModel):
    id: uuid.UUID
    full_name: str
    email: str


class StoreLicense(BaseModel):
    """A license as shown to the store's members."""

    id: uuid.UUID
    number: str
    type: LicenseTypeName
    issuing_state: str
    status: LicenseStatusName
    expiration_date: datetime | None


class PublicStoreLicense(BaseModel):
    """A verified license as shown on the public profile."""

    number: str
    type: LicenseTypeName
    issuing_state: str
    expiration_date: datetime | None


class PublicStoreDTO(BaseModel):
    """What any store user may see of another store."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_PUBLIC_EXAMPLE,
                    "licenses": [
                        {
                            "number": "403-00123",
                            "type": "grower",
                            "issuing_state": "CO",
                            "expiration_date": "2027-06-30T00:00:00Z",
                        }
                    ],
                }
            ]
        }
    )

    id: uuid.UUID
    type: StoreType
    company_name: str
    dba_name: str | None
    description: str | None
    phone: str | None
    email: str | None
    kyc_status: KycStatus
    address: Address
    delivery_radius_meters: int
    social: dict[str, Any] | None
    logo_url: str | None
    banner_url: str | None
    ratings: Ratings
    categories: list[Category]
    badge: StoreBadge | None
    created_at: datetime
    updated_at: datetime
    licenses: list[PublicStoreLicense]


class StoreDTO(BaseModel):
    """A store as its members see it."""

    model_config = ConfigDict(json_schema_extra={"examples": [STORE_EXAMPLE]})

    id: uuid.UUID
    type: StoreType
    company_name: str
    dba_name: str | None
    description: str | None
    phone: str | None
    email: str | None
    kyc_status: KycStatus
    subscription_active: bool
    address: Address
    delivery_radius_meters: int
    social: dict[str, Any] | None
    logo_media_id: uuid.UUID | None
    banner_media_id: uuid.UUID | None
    logo_url: str | None
    banner_url: str | None
    ratings: Ratings
    categories: list[Category]
    badge: StoreBadge | None
    billing_customer_id: str | None
    last_active_at: datetime | None
    created_at: datetime
    updated_at: datetime
    owner: StoreOwner
    licenses: list[StoreLicense]


class StoreSummary(BaseModel):
    """A store the caller belongs to, with their role in it."""

    model_config = ConfigDict(json_schema_extra={"examples": [STORE_SUMMARY_EXAMPLE]})

    id: uuid.UUID
    name: str
    type: StoreType
    role: MemberRole
    logo_url: str | None


def ratings_of(store: Store) -> Ratings:
    """The ratings object from the stored histogram."""
    histogram = {str(star): int((store.ratings or {}).get(str(star), 0)) for star in range(1, 6)}
    count = sum(histogram.values())
    average = None
    if count:
        total = sum(int(star) * n for star, n in histogram.items())
        average = float((Decimal(total) / Decimal(count)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return Ratings(count=count, average=average, histogram=histogram)


def _common(store: Store) -> dict[str, Any]:
    return {
        "id": store.id,
        "type": store.type,
        "company_name": store.company_name,
        "dba_name": store.dba_name,
        "description": store.description,
        "phone": store.phone,
        "email": store.email,
        "kyc_status": store.kyc_status,
        "address": address_of(store),
        "delivery_radius_meters": store.delivery_radius_meters,
        "social": store.social,
        "logo_url": store.logo_url,
        "banner_url": store.banner_url,
        "ratings": ratings_of(store),
        "categories": list(store.categories),
        "badge": store.badge,
        "created_at": store.created_at,
        "updated_at": store.updated_at,
    }


def store_dto(store: Store, owner: User, licenses: Sequence[License] = ()) -> StoreDTO:
    """StoreDTO of a store, its owner and its licenses (any status)."""
    return StoreDTO(
        **_common(store),
        subscription_active=store.subscription_active,
        logo_media_id=store.logo_media_id,
        banner_media_id=store.banner_media_id,
        billing_customer_id=store.billing_customer_id,
        last_active_at=store.last_active_at,
        owner=StoreOwner(id=owner.id, full_name=f"{owner.first_name} {owner.last_name}", email=owner.email),
        licenses=[
            StoreLicense(
                id=lic.id,
                number=lic.number,
                type=lic.type,
                issuing_state=lic.issuing_state,
                status=lic.status,
                expiration_date=lic.expiration_date,
            )
            for lic in licenses
        ],
    )


def public_store_dto(store: Store, licenses: Sequence[License] = ()) -> PublicStoreDTO:
    """PublicStoreDTO of a store: only its verified licenses, without id and status."""
    return PublicStoreDTO(
        **_common(store),
        licenses=[
            PublicStoreLicense(
                number=lic.number,
                type=lic.type,
                issuing_state=lic.issuing_state,
                expiration_date=lic.expiration_date,
            )
            for lic in licenses
            if lic.status == "verified"
        ],
    )


def store_summary(store: Store, role: str) -> StoreSummary:
    return StoreSummary(
        id=store.id, name=store.company_name, type=store.type, role=role, logo_url=store.logo_url
    )


class StoreUserDTO(BaseModel):
    """A member of the store; an `invited` one shows the names the inviter typed and no login time."""

    model_config = ConfigDict(json_schema_extra={"examples": [STORE_USER_EXAMPLE]})

    membership_id: uuid.UUID
    store_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: MemberRole
    membership_status: Literal["invited", "active"]
    invited_by_user_id: uuid.UUID | None
    invite_expires_at: datetime | None = Field(
        description="When a pending invitation lapses (7 days after it was sent); null once accepted."
    )
    last_login_at: datetime | None
    created_at: datetime


def store_user_dto(membership: StoreMembership, user: User) -> StoreUserDTO:
    invited = membership.status == "invited"
    # Until the invitee accepts, the store learns nothing about them beyond what the inviter typed.
    return StoreUserDTO(
        membership_id=membership.id,
        store_id=membership.store_id,
        user_id=user.id,
        email=user.email,
        first_name=(membership.invite_first_name or "") if invited else user.first_name,
        last_name=(membership.invite_last_name or "") if invited else user.last_name,
        role=membership.role,
        membership_status=membership.status,
        invited_by_user_id=membership.invited_by_user_id,
        invite_expires_at=membership.invite_expires_at if invited else None,
        last_login_at=None if invited else user.last_login_at,
        created_at=membership.created_at,
    )


class InvitationDTO(BaseModel):
    """A pending invitation as its invitee sees it (`GET /api/v1/invitations`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _INVITED_EXAMPLE["membership_id"],
                    "store_id": STORE_ID_EXAMPLE,
                    "store_name": "Mile High Growers",
                    "store_type": "vendor",
                    "role": "staff",
                    "invited_by_user_id": OWNER_ID_EXAMPLE,
                    "expires_at": "2026-12-14T15:00:00Z",
                    "created_at": "2026-12-07T15:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID = Field(description="The invitation (membership) id used to accept or decline.")
    store_id: uuid.UUID
    store_name: str
    store_type: StoreType
    role: MemberRole
    invited_by_user_id: uuid.UUID | None
    expires_at: datetime
    created_at: datetime


def invitation_dto(membership: StoreMembership, store: Store) -> InvitationDTO:
    assert membership.invite_expires_at is not None  # invited rows always carry their expiry
    return InvitationDTO(
        id=membership.id,
        store_id=store.id,
        store_name=store.company_name,
        store_type=store.type,
        role=membership.role,
        invited_by_user_id=membership.invited_by_user_id,
        expires_at=membership.invite_expires_at,
        created_at=membership.created_at,
    )


class InvitationDecision(BaseModel):
    """The outcome of accept or decline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": _INVITED_EXAMPLE["membership_id"], "store_id": STORE_ID_EXAMPLE, "status": "active"}
            ]
        }
    )

    id: uuid.UUID
    store_id: uuid.UUID
    status: Literal["active", "declined"]


class StoreUpdateIn(Input):
    """PATCH /stores/me: absent = unchanged, null clears; address and type cannot change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "description": "Small-batch indoor flower from Denver.",
                    "phone": "+13035550142",
                    "email": "orders@milehighgrowers.example.com",
                    "social": {"website": "https://milehighgrowers.example.com"},
                    "categories": ["flower", "pre_roll"],
                    "delivery_radius_meters": 80000,
                }
            ]
        }
    )

    # Never null (the document does not offer null); absent = unchanged.
    company_name: ShortText | None = Field(default=None, json_schema_extra=not_nullable)
    dba_name: ShortText | None = None
    description: (
        Annotated[str, Strict(), StringConstraints(strip_whitespace=True, max_length=2000)] | None
    ) = None
    phone: Phone | None = None
    email: Email | None = None
    social: Social | None = None
    categories: list[Category] | None = None
    delivery_radius_meters: Annotated[int, Field(ge=0, le=MAX_DELIVERY_RADIUS_METERS), AsInteger] | None = (
        Field(default=None, json_schema_extra=not_nullable)
    )
    logo_media_id: uuid.UUID | None = None
    banner_media_id: uuid.UUID | None = None

    @field_validator("company_name", "delivery_radius_meters")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only reached when the field is sent: these columns cannot be cleared.
        if value is None:
            raise ValueError("may not be null")
        return value


class InviteIn(Input):
    """POST /stores/me/users/invite."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "budtender@milehighgrowers.example.com",
                    "first_name": "Sam",
                    "last_name": "Rivera",
                    "role": "staff",
                }
            ]
        }
    )

    email: Email
    first_name: Name
    last_name: Name
    role: MemberRole


class InviteResult(BaseModel):
    """The pending membership and a one-time temporary password (issue #17: the same answer either way).

    `temporary_password` is the first password of an invitee who had no account. An invitee who already has
    one signs in with their own password and this value opens nothing: the answer does not reveal whether
    the email had an account. Null when nothing new was sent (already a member or invited).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"membership": _INVITED_EXAMPLE, "temporary_password": "tmp-7Hq2-xW9p-Lk4e"}]
        }
    )

    membership: StoreUserDTO
    temporary_password: str | None
