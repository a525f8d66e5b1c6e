"""Sync errors, each with its own code."""

from __future__ import annotations

from bazaar.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError


class UnknownEntity(InvalidInputError):
    code = "unknown_entity"
    default_message = "This entity type does not sync"


class OutOfScope(ForbiddenError):
    code = "out_of_scope"
    default_message = "The row belongs to another officer's portfolio"


class InvalidMutation(InvalidInputError):
    code = "invalid_mutation"
    default_message = "The mutation is malformed"


class EntityNotFound(NotFoundError):
    code = "entity_not_found"
    default_message = "No such row"


class ConflictNotFound(NotFoundError):
    code = "conflict_not_found"
    default_message = "Conflict not found"


class ConflictResolved(ConflictError):
    code = "conflict_already_resolved"
    default_message = "The conflict is already resolved"


class NotAFieldNode(ConflictError):
    code = "not_a_field_node"
    default_message = (
        "This Bazaar has no hub to sync with (set BAZAAR_SYNC_HUB_URL or run `bazaar node join`)"
    )


class ResolveAtHub(ConflictError):
    code = "resolve_at_hub"
    default_message = "Conflicts are resolved at the hub; this node closes them at its next sync"


class NodeIdTaken(ForbiddenError):
    code = "node_id_taken"
    default_message = "This node id already syncs for another user"


class SyncKeyBound(ForbiddenError):
    code = "sync_key_bound"
    default_message = "This API key already syncs another node: each node needs its own key"


class CommandNotAllowed(ForbiddenError):
    code = "command_not_allowed"
    default_message = "The caller's role may not do this"
