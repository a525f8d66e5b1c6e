"""Messages to users (for now, password-reset tokens) and who delivers them.

`Notifier` is the seam. It is called inside the transaction that issues what it delivers, so
an implementation writes there what must go out and sends it only after commit (a rollback
must not leave a token in someone's inbox). The default, `OutboxNotifier`, keeps each message
in `outbox_messages` for an admin to read (`GET /api/v1/auth/outbox`) and pass on, and logs
it; one that emails or texts the user replaces it on the auth context.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.models import OutboxMessage

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Notice:
    user_id: uuid.UUID
    recipient: str
    kind: str
    subject: str
    body: str
    # When what it says stops working: kept no longer than that.
    expires_at: datetime


class Notifier(Protocol):
    async def send(self, *, session: AsyncSession, notice: Notice) -> None: ...


class OutboxNotifier:
    def __init__(self, *, log_body: bool) -> None:
        # The body carries a secret: into the log only where logs stay on the machine (dev).
        self._log_body = log_body

    async def send(self, *, session: AsyncSession, notice: Notice) -> None:
        session.add(
            OutboxMessage(
                user_id=notice.user_id,
                recipient=notice.recipient,
                kind=notice.kind,
                subject=notice.subject,
                body=notice.body,
                expires_at=notice.expires_at,
            )
        )
        await session.flush()
        body = {"body": notice.body} if self._log_body else {}
        log.info("notice_in_outbox", kind=notice.kind, recipient=notice.recipient, **body)


@dataclass(frozen=True)
class OutboxPage:
    items: Sequence[OutboxMessage]
    total: int


async def list_outbox(
    *, session: AsyncSession, recipient: str | None, limit: int, offset: int
) -> OutboxPage:
    """Newest first."""
    conditions = [] if recipient is None else [OutboxMessage.recipient == recipient]
    total = await session.scalar(select(func.count()).select_from(OutboxMessage).where(*conditions))
    items = await session.scalars(
        select(OutboxMessage)
        .where(*conditions)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return OutboxPage(items=items.all(), total=total or 0)
