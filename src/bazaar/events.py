"""Domain events published only after their transaction commits (transactional outbox, §4.2).

Services call `record_event(session, SomeEvent(...))` while they work. The unit of work hands
the events to the subscribers after a successful commit; a rollback, including the rollback of a
SAVEPOINT the event was recorded in, discards them.

Every event is a typed dataclass of its domain (`<domain>/events.py`) that says where it goes:
the notification type it becomes and its `audience()`, or `notification = None` for an
internal event that only other subscribers act on. Realtime routes by these alone, so it
knows no domain; `tests/test_event_routing.py` fails for an event class that says neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from bazaar.stamps import utcnow

log = structlog.get_logger(__name__)

_KEY = "bazaar.events"


@dataclass(frozen=True, kw_only=True)
class Audience:
    """Who hears of an event: users by id, officers' portfolios by officer id, roles by
    name, or everyone."""

    users: tuple[str, ...] = ()
    officers: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    everyone: bool = False


@dataclass(frozen=True, kw_only=True)
class Event:
    """A committed fact. A concrete event names its `type` and its `notification`: the
    realtime notification type it becomes (sent to `audience()`), or None when internal."""

    type: ClassVar[str]
    notification: ClassVar[str | None]
    occurred_at: datetime = field(default_factory=utcnow, compare=False)

    @property
    def data(self) -> dict[str, Any]:
        """The payload: every field but the time (JSON-able: ids and amounts as strings)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "occurred_at"}

    def audience(self) -> Audience:
        return Audience()


@dataclass(frozen=True, kw_only=True)
class CredentialsEnded(Event):
    """Credentials of a user that stopped working: realtime closes the sockets opened with
    them, on every worker. `credential` names one login session or API key; None: all."""

    notification: ClassVar[str | None] = None
    user_id: str

    @property
    def credential(self) -> str | None:
        return None


Subscriber = Callable[[Sequence[Event]], Awaitable[None]]


def record_event(session: AsyncSession, event: Event) -> None:
    sync_session = session.sync_session
    transaction = sync_session.get_nested_transaction() or sync_session.get_transaction()
    sync_session.info.setdefault(_KEY, []).append((transaction, event))


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@sa_event.listens_for(Session, "after_soft_rollback")
def _discard_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if not pending:
        return
    if not previous_transaction.nested:
        pending.clear()
        return
    pending[:] = [(tx, ev) for tx, ev in pending if not _within(tx, previous_transaction)]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def publish_committed(self, session: AsyncSession) -> None:
        pending = session.sync_session.info.pop(_KEY, [])
        if pending:
            await self.publish([ev for _, ev in pending])

    async def publish(self, events: Sequence[Event]) -> None:
        # The transaction is already committed: a failing subscriber must not turn the
        # answer into an error, so it is logged and the others still run.
        for subscriber in self._subscribers:
            try:
                await subscriber(events)
            except Exception:
                log.exception("event_subscriber_failed", subscriber=repr(subscriber))
