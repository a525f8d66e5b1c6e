"""A field node's outbox: the mutations one local write queues for the hub, records and the
commands the write stands for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bazaar.stamps import new_id
from bazaar.sync.registry import LocalChange, SyncEntity


def outbox_items(
    spec: SyncEntity, local: LocalChange, row: Mapping[str, Any], seq: int
) -> list[dict[str, Any]]:
    """The sync_items rows (mutations for the hub) that one local write, logged as `row` at
    `seq`, queues."""
    after = local.after
    base = {
        "entity_type": spec.entity_type,
        "entity_id": str(row["entity_id"]),
        "op": local.op,
        "hlc": row["hlc"],
    }
    mutations: list[dict[str, Any]] = []
    if spec.records:
        # A node creates a row whole, but later may only edit the fields it owns.
        allowed = local.changed
        if local.op == "update" and spec.node_fields is not None:
            allowed = allowed & spec.node_fields
        if allowed or local.op == "delete":
            changes = {name: after[name] for name in sorted(allowed)}
            mutations.append({**base, "command": None, "changes": changes, "base": local.before})
    for name in spec.commands(local) if spec.commands else []:
        mutations.append({**base, "command": name, "changes": after, "base": {}})
    items = []
    for mutation in mutations:
        mutation_id = new_id()
        items.append(
            {
                "id": mutation_id,
                "change_seq": seq,
                "entity_type": spec.entity_type,
                "entity_id": row["entity_id"],
                "command": mutation["command"],
                "priority": spec.priority,
                "payload": {**mutation, "mutation_id": str(mutation_id)},
            }
        )
    return items
