"""Bodies of the admins' CRM connection routes. Secrets are write-only: a read says whether
each is set, never what it is."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bazaar.crm.client.dialect import RESOURCES
from bazaar.crm.mirror.models import Direction, Strategy
from bazaar.crm.models import AuthType, ConnectionStatus
from bazaar.examples import example

Url = Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s/$.?#\x00][^\s\x00]*$")]
# PostgreSQL text cannot hold NUL: a string carrying one is bad input (422), never a 500.
Secret = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00]+$")]
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]

Entity = Literal["users", "clients", "projects", "tasks", "comments"]
StrategyKey = Annotated[
    str,
    Field(
        pattern=rf"^({'|'.join(RESOURCES)})(\.[a-z_]{{1,40}})?$",
        description="An entity (`tasks`) or one of its fields (`tasks.status`)",
    ),
]

REQUIRED: dict[AuthType, tuple[str, ...]] = {
    AuthType.JWT: ("username", "password"),
    AuthType.OAUTH: ("token_url", "client_id", "client_secret"),
    AuthType.API_KEY: ("api_key",),
}


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: Url | None = None
    api_version: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,20}$")] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=10)] | None = None
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=None,
        description="Requests per minute the client allows itself; an explicit null turns "
        "the client-side limit off, for a CRM that enforces none; left out, it stays",
    )
    auth_type: AuthType | None = None
    username: Label | None = None
    password: Secret | None = None
    token_url: Url | None = None
    client_id: Label | None = None
    client_secret: Secret | None = None
    api_key: Secret | None = None
    api_key_header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")] | None = None
    refresh_margin_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None
    direction: Direction | None = None
    entities: Annotated[list[Entity], Field(min_length=1, max_length=5)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=1000)] | None = None
    interval_minutes: Annotated[int, Field(ge=1, le=10_080)] | None = None
    sync_deleted: bool | None = None
    strategy: Strategy | None = None
    strategies: Annotated[dict[StrategyKey, Strategy], Field(max_length=200)] | None = None
    skew_seconds: Annotated[float, Field(ge=0, le=86_400)] | None = None
    lookback_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None

    def changes(self) -> dict[str, Any]:
        """The fields sent; null means "not sent", but for the rate limit, where it is "off"."""
        sent = self.model_dump(exclude_none=True, exclude={"version"})
        if self.rate_limit_per_minute is None and "rate_limit_per_minute" in self.model_fields_set:
            sent["rate_limit_per_minute"] = None
        return sent


class ConnectionCreate(_Settings):
    model_config = example(
        {
            "name": "Head office CRM",
            "base_url": "https://crm.example.com/api",
            "auth_type": "jwt",
            "username": "bazaar",
            "password": "crm-password",
            "timeout_seconds": 20,
        }
    )

    name: Annotated[Label, Field(max_length=100)]
    base_url: Url
    auth_type: AuthType
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=60, description="Requests per minute the client allows itself; null for none"
    )

    @model_validator(mode="after")
    def _credentials_for_the_auth_type(self) -> ConnectionCreate:
        missing = [name for name in REQUIRED[self.auth_type] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth_type {self.auth_type.value} needs {', '.join(missing)}")
        return self


class ConnectionUpdate(_Settings):
    model_config = example({"version": 1, "timeout_seconds": 30, "max_retries": 3})

    version: Annotated[int, Field(ge=1, le=2**31 - 1)]
    name: Annotated[Label, Field(max_length=100)] | None = None


class ConnectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    base_url: str
    api_version: str
    timeout_seconds: float
    max_retries: int
    rate_limit_per_minute: int | None
    auth_type: AuthType
    username: str | None
    token_url: str | None
    client_id: str | None
    api_key_header: str
    refresh_margin_seconds: int
    has_password: bool
    has_client_secret: bool
    has_api_key: bool
    status: ConnectionStatus
    status_message: str | None
    direction: Direction
    entities: list[str]
    batch_size: int
    interval_minutes: int
    sync_deleted: bool
    strategy: Strategy
    strategies: dict[str, Strategy]
    skew_seconds: float
    lookback_seconds: int
    version: int
    created_at: datetime
    updated_at: datetime


class ResourceCheck(BaseModel):
    ok: bool
    status: int | None = None
    error: str | None = None


class ConnectionCheck(BaseModel):
    """`POST /crm/connections/{id}/test`: whether auth works and each resource answers."""

    ok: bool
    auth: ResourceCheck
    resources: dict[str, ResourceCheck]
