"""Request and response bodies of the sync API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bazaar.examples import CUSTOMER_ID, example
from bazaar.sync.models import ConflictStatus, ItemStatus, Outcome, PeerRole
from bazaar.text import json_text, line

NodeId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Change(BaseModel):
    seq: int
    entity_type: str
    entity_id: str
    op: str
    version: int
    hlc: str
    origin_node: str
    data: dict[str, Any] | None


class ChangesPage(BaseModel):
    changes: list[Change]
    next_cursor: int
    has_more: bool
    users: list[dict[str, Any]] = Field(
        description="Users the rows refer to; the caller with its password hash"
    )
    user_id: uuid.UUID = Field(description="Whom the hub served: the node's officer")
    hub_node_id: str
    hub_time: datetime
    reset: bool = Field(
        default=False,
        description="The cursor lies behind the compacted part of the log: pull again from 0 "
        "and drop the rows that bootstrap does not bring",
    )


# What identifies a mutation is written by the node's code, never typed by a person: a control
# character there refuses the whole push. The values are the entities' to check, item by item.
_ENVELOPE = ("mutation_id", "entity_type", "entity_id", "op", "command", "hlc")


def _plain_envelopes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for index, item in enumerate(items):
        for name in _ENVELOPE:
            value = item.get(name)
            if isinstance(value, str):
                try:
                    line(value)
                except ValueError as exc:
                    raise ValueError(f"items[{index}].{name} {exc}") from None
    return items


class PushRequest(Strict):
    model_config = example(
        {
            "node_id": "asha-laptop",
            "items": [
                {
                    "mutation_id": "01a23bb4-0a1b-7c2d-8e3f-405162738495",
                    "entity_type": "customer",
                    "entity_id": CUSTOMER_ID,
                    "op": "update",
                    "command": None,
                    "hlc": "1796300000000-000000-asha-laptop",
                    "changes": {"phone": "+91 98765 00000"},
                    "base": {"phone": "+91 98765 43210"},
                }
            ],
        }
    )

    node_id: str = NodeId
    items: Annotated[list[dict[str, Any]], AfterValidator(_plain_envelopes)] = Field(
        max_length=2000
    )


class ItemResultRead(BaseModel):
    mutation_id: str
    outcome: Outcome
    reason: str | None = None
    code: str | None = None
    conflict_id: str | None = None
    retryable: bool = False
    overridden: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of the edit a merge policy replaced with the hub's value: "
        "name -> {yours, kept}",
    )
    rows: list[Change] = []


class PushResponse(BaseModel):
    results: list[ItemResultRead]
    users: list[dict[str, Any]] = Field(description="Users the returned rows refer to")
    hub_node_id: str


class SyncItemRead(Read):
    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    command: str | None
    status: ItemStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    synced_at: datetime | None


class EntityStatus(BaseModel):
    entity_type: str
    entity_id: uuid.UUID
    status: ItemStatus
    attempts: int
    last_error: str | None
    items: list[SyncItemRead]


class PendingCount(BaseModel):
    pending: int
    syncing: int
    failed: int
    conflict: int


class CycleRead(BaseModel):
    pushed: int
    pulled: int
    conflicts: int
    failures: int
    duration_ms: float
    error: str | None


class NodeContact(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    node_id: str
    user_id: uuid.UUID | None
    last_seen_at: datetime | None = Field(description="The node's last request to this hub")
    last_sync_at: datetime | None = Field(description="The node's last completed pull")


class NetworkStatus(BaseModel):
    role: Literal["hub", "node"]
    node_id: str
    hub_url: str | None
    quality: str | None = Field(
        description="offline | poor | fair | good | excellent; null on a hub"
    )
    rtt_ms: float | None = Field(description="Median round trip to the hub; null on a hub")
    loss: float | None = Field(
        description="Share of failed attempts since the link was last offline; null on a hub"
    )
    samples: int
    batch_size: int
    last_sync_at: datetime | None
    last_cycle: CycleRead | None
    nodes: list[NodeContact] | None = Field(
        description="On a hub: the field nodes the caller may see, with their last contact"
    )


class FailedItems(BaseModel):
    items: list[SyncItemRead]
    rejected: list[RejectedMutation] = Field(
        description="On a hub: mutations it refused, payload kept"
    )


class RejectedMutation(Read):
    mutation_id: uuid.UUID
    node_id: str
    entity_type: str
    entity_id: uuid.UUID
    reason: str | None
    payload: dict[str, Any]
    created_at: datetime


class Retried(BaseModel):
    retried: int


class ConflictRead(Read):
    id: uuid.UUID
    mutation_id: uuid.UUID
    node_id: str
    entity_type: str
    entity_id: uuid.UUID
    fields: dict[str, Any]
    client_hlc: str
    status: ConflictStatus
    resolution: dict[str, Any] | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    created_at: datetime


class ResolveRequest(Strict):
    model_config = example({"choice": "merged", "values": {"principal": "13000"}})

    choice: Literal["local", "remote", "merged"] = Field(
        description="local: keep the hub's values; remote: take the node's; merged: `values`"
    )
    values: Annotated[dict[str, Any], AfterValidator(json_text)] | None = Field(
        default=None, description="Field values for `merged`"
    )


class PeerRead(Read):
    id: uuid.UUID
    node_id: str
    role: PeerRole
    url: str | None
    user_id: uuid.UUID | None
    pull_cursor: int
    last_seen_at: datetime | None
    last_sync_at: datetime | None
    last_error: str | None


class SyncSummary(BaseModel):
    role: Literal["hub", "node"]
    outbox: PendingCount
    synced: int
    open_conflicts: int
    rejected_mutations: int
    peers: int
    change_log_head: int


FailedItems.model_rebuild()
