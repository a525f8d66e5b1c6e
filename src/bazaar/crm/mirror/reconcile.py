"""Three-way reconciliation of one record: what each side changed since the values both last
agreed on (`base`), and what the strategy makes of a field changed on both.

A side whose hash equals the base's changed nothing, so a record changed on one side only
takes that side's values and never conflicts. Changed on both, the fields go through
`bazaar.sync.policies.resolve` with the local row as its *server* and the CRM as its
*client*: API_WINS is client_wins, DB_WINS server_wins, MANUAL_REVIEW merge (one-sided
fields merge, two-sided ones are parked), and LATEST_TIMESTAMP picks one of the first two by
the records' `updated_at`, or merge when they are closer than the skew tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bazaar.crm.mirror.models import Strategy
from bazaar.crm.mirror.records import Values, digest
from bazaar.sync.hlc import HLC
from bazaar.sync.policies import Policy, resolve

UNUSED_CLOCK = HLC(0, 0, "crm")
"""`resolve` reads clocks only for its own latest_timestamp policy, which is never passed."""

STRATEGY_POLICY = {
    Strategy.API_WINS: Policy.CLIENT_WINS,
    Strategy.DB_WINS: Policy.SERVER_WINS,
    Strategy.MANUAL_REVIEW: Policy.MERGE,
}


@dataclass
class Outcome:
    to_local: Values = field(default_factory=dict)
    to_remote: Values = field(default_factory=dict)
    parked: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per field {"base", "local", "remote"}; each side keeps its value until resolved."""
    agreed: Values = field(default_factory=dict)
    """The new base: what both sides hold once the writes are made (parked fields keep the
    old base, so they still differ on the next run)."""


def _policy(strategy: Strategy, local_at: datetime, remote_at: datetime, skew: float) -> Policy:
    if strategy is not Strategy.LATEST_TIMESTAMP:
        return STRATEGY_POLICY[strategy]
    gap = (remote_at - local_at).total_seconds()
    if abs(gap) <= skew:
        return Policy.MERGE
    return Policy.CLIENT_WINS if gap > 0 else Policy.SERVER_WINS


def reconcile(
    *,
    base: Mapping[str, Any] | None,
    local: Mapping[str, Any],
    remote: Mapping[str, Any],
    strategy: Callable[[str], Strategy],
    local_at: datetime,
    remote_at: datetime,
    skew: float,
) -> Outcome:
    if base is None:
        # Never agreed (a create adopted after a crash): the CRM holds what we sent.
        base = remote
    base_hash = digest(base)
    if digest(local) == base_hash:
        merged = dict(remote)
        parked: dict[str, dict[str, Any]] = {}
    elif digest(remote) == base_hash:
        merged = dict(local)
        parked = {}
    else:
        changed = {name: value for name, value in remote.items() if base.get(name) != value}
        resolution = resolve(
            policies={name: _policy(strategy(name), local_at, remote_at, skew) for name in changed},
            default=Policy.MERGE,
            base=base,
            server=local,
            client=changed,
            server_hlcs={},
            client_hlc=UNUSED_CLOCK,
        )
        merged = {**local, **resolution.apply}
        parked = {
            name: {"base": c.base, "local": c.server, "remote": c.client}
            for name, c in resolution.conflicts.items()
        }
    return Outcome(
        to_local={n: v for n, v in merged.items() if local.get(n) != v and n not in parked},
        to_remote={n: v for n, v in merged.items() if remote.get(n) != v and n not in parked},
        parked=parked,
        agreed={n: base.get(n) if n in parked else v for n, v in merged.items()},
    )
