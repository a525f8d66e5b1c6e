"""The two stamps every row and event carries: a UUIDv7 id and an aware UTC time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from uuid6 import uuid7


def new_id() -> uuid.UUID:
    """UUIDv7: time-ordered, so ids made offline on a field node still sort by creation."""
    return uuid.UUID(bytes=uuid7().bytes)


def utcnow() -> datetime:
    return datetime.now(UTC)
