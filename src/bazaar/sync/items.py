"""One item of a push as the hub sees it: parsed from the wire, answered with its outcome and
the hub's rows as the item left them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from bazaar.errors import AppError
from bazaar.sync.errors import InvalidMutation
from bazaar.sync.models import ChangeLog, Outcome
from bazaar.sync.registry import Mutation


@dataclass
class ItemResult:
    mutation_id: str
    outcome: Outcome
    reason: str | None = None
    code: str | None = None
    conflict_id: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    """The hub's rows as this mutation left them (or as they are, when it did not apply)."""
    retryable: bool = False
    """Rejected for now only (not recorded): the node sends it again after a backoff."""
    overridden: dict[str, Any] = field(default_factory=dict)
    """Fields of the node's edit that a merge policy set aside for the hub's value:
    name -> {"yours", "kept"}."""


def reason_of(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, AppError):
        return exc.message, exc.code
    if isinstance(exc, IntegrityError):
        return "the row breaks a uniqueness or reference rule at the hub", "integrity_error"
    return f"invalid data: {exc}", "invalid_mutation"


def parse(raw: Mapping[str, Any]) -> Mutation:
    try:
        mutation = Mutation(
            mutation_id=str(uuid.UUID(str(raw["mutation_id"]))),
            entity_type=str(raw["entity_type"]),
            entity_id=str(uuid.UUID(str(raw["entity_id"]))),
            op=str(raw["op"]),
            command=raw.get("command"),
            hlc=str(raw["hlc"]),
            changes=dict(raw.get("changes") or {}),
            base=dict(raw.get("base") or {}),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidMutation(details={"error": str(exc)}) from exc
    if mutation.op not in ("insert", "update", "delete"):
        raise InvalidMutation(details={"op": mutation.op})
    return mutation


def row_payload(entry: ChangeLog | Mapping[str, Any]) -> dict[str, Any]:
    get = entry.get if isinstance(entry, Mapping) else lambda key: getattr(entry, key)
    return {
        "seq": get("seq"),
        "entity_type": get("entity_type"),
        "entity_id": str(get("entity_id")),
        "op": get("op"),
        "version": get("version"),
        "hlc": get("hlc"),
        "origin_node": get("origin_node"),
        "data": get("data"),
    }
