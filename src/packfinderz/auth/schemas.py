"""Auth request/response models (identity.md §5 UserDTO, §6.5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, Strict, StringConstraints, field_validator

from packfinderz.kit.schemas import AddressIn, Email, Input, Name, Phone, ShortText
from packfinderz.kit.security import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, password_problem
from packfinderz.models.identity import User
from packfinderz.stores.schemas import MemberRole, StoreDTO, StoreSummary, StoreType


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
]
# Presented (not chosen) passwords: any length up to the policy's maximum, so old hashes still verify.
PresentedPassword = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class UserDTO(BaseModel):
    """A user without password_hash and password_changed_at."""

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

    access_token: str | None = Field(
        description="JWT for `Authorization: Bearer`; null on an idempotent replay."
    )
    access_token_expires_at: datetime
    refresh_token: str | None = Field(
        description="Opaque, single use (rotated); null on an idempotent replay."
    )


class RegisterIn(Input):
    """POST /api/v1/auth/register."""

    first_name: Name
    last_name: Name
    email: Email
    password: Password
    phone: Phone | None = None
    company_name: ShortText
    dba_name: ShortText | None = None
    store_type: StoreType
    address: AddressIn
    accept_tos: Annotated[bool, Strict()]

    @field_validator("accept_tos")
    @classmethod
    def _accepted(cls, value: bool) -> bool:
        if not value:
            raise ValueError("must be true")
        return value


class RegisterResult(TokenBundle):
    user: UserDTO
    store: StoreDTO
    stores: list[StoreSummary]


class LoginIn(Input):
    """POST /api/v1/auth/login and /api/admin/v1/auth/login."""

    email: Email
    password: PresentedPassword


class LoginResult(TokenBundle):
    user: UserDTO
    stores: list[StoreSummary]
    active_store_id: uuid.UUID | None


class AdminLoginResult(TokenBundle):
    user: UserDTO


class AdminRegisterIn(Input):
    """POST /api/admin/v1/auth/register (not mounted in prod)."""

    first_name: Name
    last_name: Name
    email: Email
    password: Password


class RefreshIn(Input):
    refresh_token: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=512)]


class RefreshResult(TokenBundle):
    active_store_id: uuid.UUID | None


class LogoutResult(BaseModel):
    status: Literal["logged_out"]


class SwitchStoreIn(Input):
    store_id: uuid.UUID


class SwitchStoreResult(TokenBundle):
    store_id: uuid.UUID
    store_name: str
    store_type: StoreType
    role: MemberRole


class UpdatePasswordIn(Input):
    current_password: PresentedPassword
    new_password: Password


class ResetPasswordResult(BaseModel):
    user_id: uuid.UUID
    temporary_password: str


class UserMembership(BaseModel):
    store_id: uuid.UUID
    company_name: str
    role: MemberRole
    status: Literal["invited", "active"]


class AdminUserDTO(UserDTO):
    memberships: list[UserMembership]
