"""What the credential check read, kept for a second: an authenticated request costs no database
read while its session's state is fresh.

The promise stays as before in substance: logout, a password change, a deactivation, a role
change or a revoked key refuse older credentials at once on the worker that committed them
(its after-commit events drop the entries) and within `BAZAAR_AUTH_VALIDITY_CACHE_SECONDS`
(default 1 s) on every other worker, whose entries simply expire. 0 turns the cache off.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from cachetools import TTLCache

from bazaar.events import CredentialsEnded, Event

# Entries of a busy worker: far more sessions than one process serves in a second.
MAX_ENTRIES = 50_000


class ValidityCache:
    def __init__(self, seconds: float) -> None:
        self.enabled = seconds > 0
        self._entries: TTLCache[tuple[Any, ...], Any] = TTLCache(
            maxsize=MAX_ENTRIES, ttl=max(seconds, 0.001)
        )

    def get(self, key: tuple[Any, ...]) -> Any | None:
        return self._entries.get(key) if self.enabled else None

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.enabled:
            self._entries[key] = value

    async def forget_ended(self, events: Sequence[Event]) -> None:
        """An events subscriber: credentials that ended here are refused from the next request."""
        for event in events:
            if isinstance(event, CredentialsEnded):
                self._forget(uuid.UUID(event.user_id), event.credential)

    def _forget(self, user_id: uuid.UUID, credential: str | None) -> None:
        # Keys start with the user id; the second part names the session or the key.
        for key in [k for k in self._entries if k[0] == user_id]:
            if credential is None or str(key[1]) == credential:
                self._entries.pop(key, None)
