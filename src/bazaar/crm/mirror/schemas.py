"""Bodies of the sync routes: runs, their journal's summary, conflicts and the status."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bazaar.crm.mirror.models import ConflictStatus, RunStatus


class RunStarted(BaseModel):
    run_id: uuid.UUID
    status: RunStatus


class RecordFailure(BaseModel):
    entity: str
    side: str
    message: str
    local_id: str | None = None
    external_id: str | None = None


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    connection_id: uuid.UUID
    status: RunStatus
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    pulled: int
    pushed: int
    created: int
    updated: int
    deleted: int
    conflicts: int
    failed: int
    error: str | None
    failures: list[RecordFailure]


class FieldDiff(BaseModel):
    field: str
    base: Any
    local: Any
    remote: Any


class ConflictRead(BaseModel):
    id: uuid.UUID
    connection_id: uuid.UUID
    run_id: uuid.UUID | None
    entity: str
    local_id: uuid.UUID | None
    external_id: str | None
    status: ConflictStatus
    fields: list[FieldDiff]
    """Field by field: the value both sides agreed on last, and each side's since."""
    resolution: dict[str, Any] | None
    created_at: datetime
    resolved_at: datetime | None


class ConflictResolve(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"choice": "remote"},
                {"choice": "merged", "values": {"name": "Expansion (phase 2)"}},
            ]
        },
    )

    choice: Literal["local", "remote", "merged"]
    values: dict[str, Any] | None = Field(
        default=None,
        max_length=50,
        description="With `merged`: a value for every field in conflict",
    )

    @model_validator(mode="after")
    def _values_only_when_merged(self) -> ConflictResolve:
        if (self.values is not None) != (self.choice == "merged"):
            raise ValueError("give values with choice=merged, and only then")
        return self


class CheckpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entity: str
    pulled_until: datetime | None
    pushed_until: datetime | None
    updated_at: datetime


class ConnectionSyncRead(BaseModel):
    connection_id: uuid.UUID
    name: str
    direction: str
    last_run: RunRead | None
    next_run_at: datetime | None
    success_rate: float | None
    """Runs that succeeded among the last 20 finished ones; None before any finished."""
    open_conflicts: int
    checkpoints: list[CheckpointRead]
