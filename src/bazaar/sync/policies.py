"""Field-level merge of a record change against the current row.

Vocabulary, the same on the hub and on a node: *server* is the hub's side, *client* the
field node's side. A client change carries the fields it set (`client`), the values those
and the other synced fields had when the client last saw the row (`base`), and its HLC.

Per changed field, when the two sides disagree:
- `latest_timestamp`: last writer wins per field by HLC (ties already broken by node id
  inside the HLC). Order-independent, hence convergent.
- `server_wins` / `client_wins`: a field changed on one side only takes that change
  (three-way against the base); changed on both sides, the named side wins.
- `merge`: one-sided changes merge cleanly; a field changed on both sides is parked.
- `manual`: a client change made against a stale row (the server changed any synced field
  since the base) is parked, even when the server changed other fields: used where a
  silent merge would be wrong, e.g. the terms of an application approved meanwhile.
Parked fields become a conflict for a person to resolve; the rest of the change applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bazaar.sync.hlc import HLC


class Policy(StrEnum):
    SERVER_WINS = "server_wins"
    CLIENT_WINS = "client_wins"
    LATEST_TIMESTAMP = "latest_timestamp"
    MERGE = "merge"
    MANUAL = "manual"


_MISSING = object()


@dataclass(frozen=True, slots=True)
class FieldConflict:
    base: Any
    server: Any
    client: Any


@dataclass(frozen=True, slots=True)
class Resolution:
    apply: dict[str, Any] = field(default_factory=dict)
    """Client values to write onto the server row (under latest_timestamp possibly equal to
    the server's, to advance the field's clock)."""
    conflicts: dict[str, FieldConflict] = field(default_factory=dict)
    """Fields parked for a person; the server keeps its value meanwhile."""


class _Outcome(StrEnum):
    TAKE = "take"
    KEEP = "keep"
    PARK = "park"


def _decide(policy: Policy, *, stale: bool, server_changed: bool) -> _Outcome:
    if policy is Policy.MANUAL:
        return _Outcome.PARK if stale else _Outcome.TAKE
    if not server_changed or policy is Policy.CLIENT_WINS:
        return _Outcome.TAKE
    return _Outcome.PARK if policy is Policy.MERGE else _Outcome.KEEP


def is_stale(*, base: Mapping[str, Any], server: Mapping[str, Any]) -> bool:
    return any(server.get(name, _MISSING) != value for name, value in base.items())


def resolve(
    *,
    policies: Mapping[str, Policy],
    default: Policy,
    base: Mapping[str, Any],
    server: Mapping[str, Any],
    client: Mapping[str, Any],
    server_hlcs: Mapping[str, HLC],
    client_hlc: HLC,
) -> Resolution:
    """Decide, field by field, what of a client change lands on the server row.

    `server_hlcs` holds the HLC of the server's last write of each field; a field absent
    from it has not been written since the row was created and loses to any client write.
    """
    stale = is_stale(base=base, server=server)
    resolution = Resolution()
    for name, value in client.items():
        current = server.get(name, _MISSING)
        policy = policies.get(name, default)
        if policy is Policy.LATEST_TIMESTAMP:
            # An equal value still counts as the newer write: its timestamp must move the
            # field's clock, or an older write delivered later would overtake it.
            last_write = server_hlcs.get(name)
            if last_write is None or client_hlc > last_write:
                resolution.apply[name] = value
            continue
        if current == value:
            continue
        server_changed = base.get(name, _MISSING) != current
        match _decide(policy, stale=stale, server_changed=server_changed):
            case _Outcome.TAKE:
                resolution.apply[name] = value
            case _Outcome.PARK:
                resolution.conflicts[name] = FieldConflict(
                    base=base.get(name), server=current, client=value
                )
    return resolution
