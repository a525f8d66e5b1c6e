"""Request and response bodies. Every request model forbids unknown fields, so a client can never
set `role`, `is_active` or anything else it was not offered (mass assignment answers 422)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
)

from bazaar.auth.passwords import MAX_LENGTH, MIN_LENGTH, check_password_policy
from bazaar.auth.roles import Role, Scope
from bazaar.examples import OFFICER_ID, example
from bazaar.text import Line


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _lower(email: str) -> str:
    return email.lower()


Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_lower)]
"""email-validator already refuses control characters."""
NewPassword = Annotated[
    str,
    Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH, json_schema_extra={"format": "password"}),
    AfterValidator(check_password_policy),
]
# Only bounded: a login never reveals the policy, and any wrong value is just a wrong password.
GivenPassword = Annotated[
    str, Field(min_length=1, max_length=MAX_LENGTH, json_schema_extra={"format": "password"})
]
FullName = Annotated[Line, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{3,30}$")]


class SignupRequest(Strict):
    model_config = example(
        {
            "email": "ravi@example.com",
            "password": "kirana-ledger-42",
            "full_name": "Ravi Kumar",
            "phone": "+91 98765 43210",
        }
    )

    email: Email
    password: NewPassword
    full_name: FullName
    phone: Phone | None = None


GivenEmail = Annotated[Line, Field(min_length=1, max_length=320)]


class LoginRequest(Strict):
    model_config = example({"email": "officer@demo.bazaar", "password": "demo-password"})

    email: GivenEmail
    password: GivenPassword


class TokenForm(BaseModel):
    """The OAuth2 password grant's form (RFC 6749 §4.3.2), for /docs; `username` is the email.
    Other fields a client sends (`scope`, `client_id`) are ignored."""

    model_config = example(
        {"grant_type": "password", "username": "officer@demo.bazaar", "password": "demo-password"}
    )

    grant_type: Literal["password"] | None = None
    username: GivenEmail
    password: GivenPassword


class RefreshRequest(Strict):
    model_config = example({"refresh_token": "bzr_rt_hE2sZk0yq3Vd1bW8nQ4tX7uR9aC5fG6jL0mP2oS3vY"})

    refresh_token: Annotated[Line, Field(min_length=1, max_length=2048)]


class ChangePasswordRequest(Strict):
    model_config = example(
        {"current_password": "demo-password", "new_password": "kirana-ledger-42"}
    )

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

    model_config = example(
        {
            "email": "asha@example.com",
            "password": "field-visits-2027",
            "full_name": "Asha Rao",
            "phone": "+91 90000 11111",
            "role": "officer",
        }
    )

    email: Email
    password: NewPassword
    full_name: FullName
    phone: Phone | None = None
    role: Role


class ProfileUpdate(Strict):
    """Fields left out stay as they are."""

    model_config = example({"full_name": "Bina Buyer", "phone": "+91 98200 00000"})

    full_name: FullName | None = None
    phone: Phone | None = None


class UserUpdate(Strict):
    """Fields left out stay as they are. `role` and `is_active` are for admins, on others only."""

    model_config = example({"full_name": "Asha Rao", "phone": "+91 90000 22222", "is_active": True})

    full_name: FullName | None = None
    phone: Phone | None = None
    role: Role | None = None
    is_active: StrictBool | None = None


class ApiKeyCreate(Strict):
    model_config = example({"name": "Asha laptop", "scope": "sync", "owner_id": OFFICER_ID})

    name: Annotated[Line, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
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


class SetPasswordRequest(Strict):
    model_config = example({"new_password": "field-visits-2027"})

    new_password: NewPassword


class PasswordResetRequest(Strict):
    model_config = example({"email": "officer@demo.bazaar"})

    email: Annotated[str, Field(min_length=1, max_length=320)]


class PasswordResetAccepted(Strict):
    message: str


class PasswordResetConfirm(Strict):
    model_config = example(
        {"token": "bzr_pr_Qm3xT8vK1nB6cZ0rW5yH2jD9fL4sA7gE", "new_password": "kirana-ledger-42"}
    )

    token: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: NewPassword


class OutboxMessageRead(Strict):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    recipient: str
    kind: str
    subject: str
    body: str
    created_at: datetime
    expires_at: datetime


class OutboxPage(Strict):
    items: list[OutboxMessageRead]
    total: int
    limit: int
    offset: int
