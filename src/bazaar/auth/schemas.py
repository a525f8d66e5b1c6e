"""Request and response bodies. Every request model forbids unknown fields, so a client can never
set `role`, `is_active` or anything else it was not offered (mass assignment answers 422)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from bazaar.auth.passwords import MAX_LENGTH, MIN_LENGTH, check_password_policy
from bazaar.auth.roles import Role, Scope


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _lower(email: str) -> str:
    return email.lower()


Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_lower)]
NewPassword = Annotated[
    str,
    Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH, json_schema_extra={"format": "password"}),
    AfterValidator(check_password_policy),
]
# Only bounded: a login never reveals the policy, and any wrong value is just a wrong password.
GivenPassword = Annotated[
    str, Field(min_length=1, max_length=MAX_LENGTH, json_schema_extra={"format": "password"})
]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{3,30}$")]


class SignupRequest(Strict):
    email: Email
    password: NewPassword
    full_name: FullName
    phone: Phone | None = None


class LoginRequest(Strict):
    # Not EmailStr: any wrong value is just a wrong login. But no NUL, which PostgreSQL text
    # cannot hold (the lookup failed with a 500 instead of a 401).
    email: Annotated[str, Field(min_length=1, max_length=320, pattern=r"^[^\x00]+$")]
    password: GivenPassword


class RefreshRequest(Strict):
    refresh_token: Annotated[str, Field(min_length=1, max_length=2048)]


class ChangePasswordRequest(Strict):
    current_password: GivenPassword
    new_password: NewPassword


class TokenResponse(Strict):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the access token expires")


class UserRead(Strict):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    phone: str | None
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserCreate(Strict):
    """An account made by an admin: staff, node machine accounts, or a customer on their behalf."""

    email: Email
    password: NewPassword
    full_name: FullName
    phone: Phone | None = None
    role: Role


class UserUpdate(Strict):
    """Fields left out stay as they are. `role` and `is_active` are for admins, on others only."""

    full_name: FullName | None = None
    phone: Phone | None = None
    role: Role | None = None
    is_active: bool | None = None


class UserPage(Strict):
    items: list[UserRead]
    total: int
    limit: int
    offset: int


class ApiKeyCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scope: Scope = Scope.READ
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    owner_id: uuid.UUID | None = Field(
        default=None, description="Admins only: the user the key acts as (default: yourself)"
    )


class ApiKeyRead(Strict):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scope: Scope
    owner_id: uuid.UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret; shown only in this answer")
