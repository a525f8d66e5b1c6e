from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bazaar.examples import example
from bazaar.scalars import IsoDateTime
from bazaar.text import Lines


class BroadcastCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        **example(
            {
                "message": "The hub is down for maintenance 22:00-23:00 UTC",
                "severity": "warning",
                "starts_at": "2026-12-03T22:00:00Z",
                "ends_at": "2026-12-03T23:00:00Z",
            }
        ),
    )

    message: Lines = Field(min_length=1, max_length=2000)
    severity: Literal["info", "warning", "critical"] = "info"
    starts_at: IsoDateTime | None = None
    ends_at: IsoDateTime | None = None


class BroadcastRead(BaseModel):
    type: Literal["system_maintenance"] = "system_maintenance"
    channel: str
    offset: int
    epoch: str


class ActiveConnections(BaseModel):
    total_connections: int = Field(description="Open sockets on every worker")
    online_users: int
    this_worker: int = Field(description="Open sockets on the worker that answered")


class PresenceEntry(BaseModel):
    user_id: uuid.UUID
    connections: int


class PresenceRead(BaseModel):
    users: list[PresenceEntry]
