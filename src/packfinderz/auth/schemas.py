"""Auth request/response models (identity.md §5 UserDTO, §6.5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints, field_validator

from packfinderz.kit.schemas import ADDRESS_EXAMPLE, AddressIn, Email, Input, Name, Phone, ShortText
from packfinderz.kit.security import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, password_problem
from packfinderz.models.identity import User
from packfinderz.stores.schemas import (
    STORE_EXAMPLE,
    STORE_SUMMARY_EXAMPLE,
    MemberRole,
    StoreDTO,
    StoreSummary,
    StoreType,
)


def _password_policy(value: str) -> str:
    problem = password_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Not stripped: leading and trailing spaces are part of a password. The policy (issue #17): 12..256
# characters and a zxcvbn score of at least 3 (register, admin register, update-password, CLI).
Password = Annotated[
    str,
    Strict(),
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(_password_policy),
    Field(
        description=f"{PASSWORD_MIN_LENGTH}..{PASSWORD_MAX_LENGTH} characters, not easily guessed (zxcvbn "
        "score of at least 3: no common passwords, names or keyboard patterns); checked by the server (400)."
    ),
]
# Presented (not chosen) passwords: any length up to the policy's maximum, so old hashes still verify.
PresentedPassword = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]

# Examples (OpenAPI) from the demo marketplace (`packfinderz seed --demo`).
USER_EXAMPLE: dict[str, Any] = {
    "id": "c48e5aae-413c-4f34-9dc5-6ebd4d07f144",
    "email": "mile-high-growers@demo.example.com",
    "first_name": "Mile",
    "last_name": "Owner",
    "phone": "+13035550142",
    "is_active": True,
    "system_role": None,
    "must_change_password": False,
    "last_login_at": "2026-12-07T14:48:06.725475Z",
    "created_at": "2026-12-07T14:46:42.970967Z",
    "updated_at": "2026-12-07T14:48:06.725475Z",
}
ADMIN_USER_EXAMPLE: dict[str, Any] = {
    **USER_EXAMPLE,
    "id": "0b1f5c9e-7d0a-4d35-9a39-3f4ad2f8e611",
    "email": "admin@demo.example.com",
    "first_name": "Demo",
    "last_name": "Admin",
    "phone": None,
    "system_role": "admin",
}
_TOKENS_EXAMPLE: dict[str, Any] = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjNDhlNWFhZSJ9.c2lnbmF0dXJl",
    "access_token_expires_at": "2026-12-07T15:03:06Z",
    "refresh_token": "rt_3q2-7wEAAAAxRWc1V2lzc2VfZGVtb19vbmx5",
}
_DEMO_PASSWORD = "Kettle-Sunrise-Denver-42"  # noqa: S105 - an example, not a secret


class UserDTO(BaseModel):
    """A user without password_hash and password_changed_at."""

    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    phone: str | None
    is_active: bool
    system_role: Literal["agent", "admin"] | None
    must_change_password: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


def user_dto(user: User) -> UserDTO:
    return UserDTO.model_validate(user, from_attributes=True)


class TokenBundle(BaseModel):
    """Issued tokens; the access token is also in the `X-PF-Token` header."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TOKENS_EXAMPLE]})

    access_token: str | None = Field(
        description="JWT for `Authorization: Bearer`; null on an idempotent replay."
    )
    access_token_expires_at: datetime
    refresh_token: str | None = Field(
        description="Opaque, single use (rotated); null on an idempotent replay."
    )


class RegisterIn(Input):
    """POST /api/v1/auth/register."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Mile",
                    "last_name": "Owner",
                    "email": "mile-high-growers@demo.example.com",
                    "password": _DEMO_PASSWORD,
                    "phone": "+13035550142",
                    "company_name": "Mile High Growers",
                    "dba_name": None,
                    "store_type": "vendor",
                    "address": ADDRESS_EXAMPLE,
                    "accept_tos": True,
                }
            ]
        }
    )

    first_name: Name
    last_name: Name
    email: Email
    password: Password
    phone: Phone | None = None
    company_name: ShortText
    dba_name: ShortText | None = None
    store_type: StoreType
    address: AddressIn
    accept_tos: Annotated[bool, Strict(), Field(json_schema_extra={"const": True})]

    @field_validator("accept_tos")
    @classmethod
    def _accepted(cls, value: bool) -> bool:
        if not value:
            raise ValueError("must be true")
        return value


class RegisterResult(TokenBundle):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_TOKENS_EXAMPLE,
                    "user": USER_EXAMPLE,
                    "store": STORE_EXAMPLE,
                    "stores": [STORE_SUMMARY_EXAMPLE],
                }
            ]
        }
    )

    user: UserDTO
    store: StoreDTO
    stores: list[StoreSummary]


class LoginIn(Input):
    """POST /api/v1/auth/login and /api/admin/v1/auth/login."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "mile-high-growers@demo.example.com", "password": "packfinderz-demo"}]
        }
    )

    email: Email
    password: PresentedPassword


class LoginResult(TokenBundle):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_TOKENS_EXAMPLE,
                    "user": USER_EXAMPLE,
                    "stores": [STORE_SUMMARY_EXAMPLE],
                    "active_store_id": STORE_SUMMARY_EXAMPLE["id"],
                }
            ]
        }
    )

    user: UserDTO
    stores: list[StoreSummary]
    active_store_id: uuid.UUID | None


class AdminLoginResult(TokenBundle):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_TOKENS_EXAMPLE, "user": ADMIN_USER_EXAMPLE}]}
    )

    user: UserDTO


class AdminRegisterIn(Input):
    """POST /api/admin/v1/auth/register (not mounted in prod)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Demo",
                    "last_name": "Admin",
                    "email": "admin@demo.example.com",
                    "password": _DEMO_PASSWORD,
                }
            ]
        }
    )

    first_name: Name
    last_name: Name
    email: Email
    password: Password


class RefreshIn(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": _TOKENS_EXAMPLE["refresh_token"]}]}
    )

    refresh_token: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=512)]


class RefreshResult(TokenBundle):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_TOKENS_EXAMPLE, "active_store_id": STORE_SUMMARY_EXAMPLE["id"]}]}
    )

    active_store_id: uuid.UUID | None


class LogoutResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "logged_out"}]})

    status: Literal["logged_out"]


class SwitchStoreIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"store_id": STORE_SUMMARY_EXAMPLE["id"]}]})

    store_id: uuid.UUID


class SwitchStoreResult(TokenBundle):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_TOKENS_EXAMPLE,
                    "store_id": STORE_SUMMARY_EXAMPLE["id"],
                    "store_name": "Mile High Growers",
                    "store_type": "vendor",
                    "role": "owner",
                }
            ]
        }
    )

    store_id: uuid.UUID
    store_name: str
    store_type: StoreType
    role: MemberRole


class UpdatePasswordIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"current_password": "packfinderz-demo", "new_password": _DEMO_PASSWORD}]
        }
    )

    current_password: PresentedPassword
    new_password: Password


class ResetPasswordResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"user_id": USER_EXAMPLE["id"], "temporary_password": "tmp-7Hq2-xW9p-Lk4e"}]
        }
    )

    user_id: uuid.UUID
    temporary_password: str


class UserMembership(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "store_id": STORE_SUMMARY_EXAMPLE["id"],
                    "company_name": "Mile High Growers",
                    "role": "owner",
                    "status": "active",
                }
            ]
        }
    )

    store_id: uuid.UUID
    company_name: str
    role: MemberRole
    status: Literal["invited", "active"]


class AdminUserDTO(UserDTO):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **USER_EXAMPLE,
                    "memberships": [
                        {
                            "store_id": STORE_SUMMARY_EXAMPLE["id"],
                            "company_name": "Mile High Growers",
                            "role": "owner",
                            "status": "active",
                        }
                    ],
                }
            ]
        }
    )

    memberships: list[UserMembership]
