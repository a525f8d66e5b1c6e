"""A run's journal: the before-image of every local row it changed and every remote write,
written in the transaction of the change it describes (remote ones right after the CRM
answered), so a rollback knows exactly what to undo."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Date, Uuid
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.crm.mirror.models import JournalEntry
from bazaar.crm.mirror.records import Kind, LocalRow
from bazaar.sqltypes import UTCDateTime


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def image(kind: Kind, row: LocalRow) -> dict[str, Any]:
    """The row's synced columns and deletion, as JSON."""
    return {name: _plain(getattr(row, name)) for name in (*kind.fields, "deleted_at")}


def restore(kind: Kind, row: LocalRow, before: dict[str, Any]) -> None:
    assert kind.model is not None
    table = kind.model.__table__
    for name, value in before.items():
        column_type = table.c[name].type
        if value is not None:
            if isinstance(column_type, Uuid):
                value = uuid.UUID(value)
            elif isinstance(column_type, UTCDateTime):
                value = datetime.fromisoformat(value)
            elif isinstance(column_type, Date):
                value = date.fromisoformat(value)
            elif getattr(column_type, "enum_class", None) is not None:
                value = column_type.enum_class(value)  # type: ignore[attr-defined]
        setattr(row, name, value)


class Journal:
    def __init__(self, run_id: uuid.UUID) -> None:
        self.run_id = run_id
        self.seq = 0

    def add(
        self,
        session: AsyncSession,
        *,
        side: str,
        action: str,
        entity: str,
        local_id: uuid.UUID | None,
        external_id: str | None,
        before: dict[str, Any] | None,
        after: str | None,
        link_base: dict[str, Any] | None,
    ) -> JournalEntry:
        self.seq += 1
        entry = JournalEntry(
            run_id=self.run_id,
            seq=self.seq,
            side=side,
            action=action,
            entity=entity,
            local_id=local_id,
            external_id=external_id,
            before=before,
            after=after,
            link_base=link_base,
        )
        session.add(entry)
        return entry
