"""A node's record mutation at the hub: inserted whole, or merged field by field under the
entity's policies (conflicts parked in the inbox)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.config import ConfigurationError
from bazaar.sync.capture import snapshot, synced_fields
from bazaar.sync.codec import decode_row
from bazaar.sync.hlc import HLC
from bazaar.sync.items import ItemResult
from bazaar.sync.models import ChangeLog, Conflict, Outcome
from bazaar.sync.ownership import ensure_in_scope, owner_of
from bazaar.sync.policies import Policy, resolve
from bazaar.sync.registry import Mutation, PushContext, SyncEntity


@dataclass(frozen=True)
class Applying:
    """One push being applied: by whom, from which node, under which policy overrides."""

    session: AsyncSession
    principal: Principal
    node_id: str
    overrides: Mapping[str, str]
    push: PushContext


def check_policy_overrides(overrides: Mapping[str, str]) -> None:
    """Refuse to start with a BAZAAR_SYNC_POLICIES entry that names no policy."""
    for key, value in overrides.items():
        if value not in Policy.__members__.values() or "." not in key:
            raise ConfigurationError(
                f"BAZAAR_SYNC_POLICIES: {key}={value!r}; use entity.field = one of "
                + ", ".join(p.value for p in Policy)
            )


def effective_policies(spec: SyncEntity, overrides: Mapping[str, str]) -> dict[str, Policy]:
    policies = dict(spec.policies)
    prefix = f"{spec.entity_type}."
    for key, value in overrides.items():
        if key.startswith(prefix):
            policies[key.removeprefix(prefix)] = Policy(value)
    return policies


async def field_clocks(
    session: AsyncSession, spec: SyncEntity, entity_id: uuid.UUID
) -> dict[str, HLC]:
    """The HLC of the last write of each field, from the change log (newest first)."""
    entries = await session.execute(
        select(ChangeLog.fields)
        .where(ChangeLog.entity_type == spec.entity_type, ChangeLog.entity_id == entity_id)
        .order_by(ChangeLog.seq.desc())
    )
    clocks: dict[str, HLC] = {}
    wanted = set(synced_fields(spec.model))
    for (written,) in entries:
        for name, stamp in written.items():
            clocks.setdefault(name, HLC.decode(stamp))
        if wanted <= clocks.keys():
            break
    return clocks


async def insert_record(applying: Applying, spec: SyncEntity, mutation: Mutation) -> None:
    session, principal = applying.session, applying.principal
    allowed = set(synced_fields(spec.model))
    values = decode_row(spec.model, {k: v for k, v in mutation.changes.items() if k in allowed})
    values["id"] = uuid.UUID(mutation.entity_id)
    if spec.validate is not None:
        await spec.validate(
            session=session, principal=principal, push=applying.push, values=values, row=None
        )
    row = spec.model(**values)
    await ensure_in_scope(session, principal, spec, row)
    session.add(row)
    await session.flush()
    # Held here too: the session's identity map would let it go once this returns.
    applying.push.inserted[(spec.entity_type, row.id)] = row


async def merge_record(
    applying: Applying, spec: SyncEntity, row: Any, mutation: Mutation
) -> ItemResult:
    session = applying.session
    fields = synced_fields(spec.model)
    client = {
        k: v
        for k, v in mutation.changes.items()
        if k in fields and (spec.node_fields is None or k in spec.node_fields)
    }
    server = snapshot(row, fields)
    resolution = resolve(
        policies=effective_policies(spec, applying.overrides),
        default=spec.default_policy,
        base={k: v for k, v in mutation.base.items() if k in fields},
        server=server,
        client=client,
        server_hlcs=await field_clocks(session, spec, row.id),
        client_hlc=HLC.decode(mutation.hlc),
    )
    values = decode_row(spec.model, resolution.apply)
    if values and spec.validate is not None:
        await spec.validate(
            session=session,
            principal=applying.principal,
            push=applying.push,
            values=values,
            row=row,
        )
    for name, value in values.items():
        setattr(row, name, value)
    await session.flush()
    overridden = {
        name: {"yours": value, "kept": server[name]}
        for name, value in client.items()
        if name not in resolution.apply
        and name not in resolution.conflicts
        and server.get(name) != value
    }
    if not resolution.conflicts:
        return ItemResult(mutation.mutation_id, Outcome.APPLIED, overridden=overridden)
    conflict = Conflict(
        owner_id=await owner_of(session, spec, row),
        mutation_id=uuid.UUID(mutation.mutation_id),
        node_id=applying.node_id,
        entity_type=spec.entity_type,
        entity_id=row.id,
        fields={
            name: {"base": c.base, "server": c.server, "client": c.client}
            for name, c in resolution.conflicts.items()
        },
        client_hlc=mutation.hlc,
    )
    session.add(conflict)
    await session.flush()
    return ItemResult(
        mutation.mutation_id,
        Outcome.CONFLICT,
        conflict_id=str(conflict.id),
        overridden=overridden,
    )
