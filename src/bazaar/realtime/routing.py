"""Who may hear what: channels of a socket, types per role, channels of a domain event.

A socket joins only channels derived from its principal (never ones the client names), so
a notification reaches exactly the audience of the channels it is published to:
`user:{id}` (the user's own records), `officer:{id}` (an officer's portfolio), `role:{role}`,
and `broadcast` (everyone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.realtime.messages import NotificationType as T

BROADCAST = "broadcast"
# Control messages between workers (revocations); no socket ever joins it.
CONTROL = "control"
# Presence news, for admins only; apart from role:admin so its churn never pushes business
# notifications out of that channel's history.
PRESENCE = "presence"

_BUSINESS = frozenset(
    {
        T.LOAN_STATUS_CHANGE,
        T.NEW_APPLICATION,
        T.PAYMENT_RECEIVED,
        T.COMMENT_ADDED,
        T.INVENTORY_UPDATE,
        T.SYSTEM_MAINTENANCE,
    }
)
_PRESENCE = frozenset({T.USER_ONLINE, T.USER_OFFLINE})

DEFAULT_TYPES: Mapping[Role, frozenset[T]] = {
    Role.ADMIN: _BUSINESS | {T.SYNC_STATUS},
    Role.OFFICER: _BUSINESS | {T.SYNC_STATUS},
    Role.CUSTOMER: _BUSINESS,
    Role.NODE: frozenset({T.SYNC_STATUS, T.SYSTEM_MAINTENANCE}),
}

# Presence is opt-in and for admins only: it tells who uses the platform when.
ALLOWED_TYPES: Mapping[Role, frozenset[T]] = {
    **DEFAULT_TYPES,
    Role.ADMIN: DEFAULT_TYPES[Role.ADMIN] | _PRESENCE,
}

# The lending events that become notifications, with the data keys naming their audience.
LENDING_EVENTS = frozenset({T.NEW_APPLICATION, T.LOAN_STATUS_CHANGE, T.PAYMENT_RECEIVED})


def user_channel(user_id: object) -> str:
    return f"user:{user_id}"


def officer_channel(officer_id: object) -> str:
    return f"officer:{officer_id}"


def role_channel(role: Role) -> str:
    return f"role:{role.value}"


def channels_of(principal: Principal) -> frozenset[str]:
    channels = {user_channel(principal.user_id), role_channel(principal.role), BROADCAST}
    if principal.role is Role.OFFICER:
        channels.add(officer_channel(principal.user_id))
    if principal.role is Role.ADMIN:
        channels.add(PRESENCE)
    return frozenset(channels)


def lending_channels(data: Mapping[str, Any]) -> list[str]:
    """The borrower, the loan's officer and the admins: the readers of the loan over REST."""
    channels = [role_channel(Role.ADMIN)]
    if data.get("officer_id"):
        channels.append(officer_channel(data["officer_id"]))
    if data.get("customer_user_id"):
        channels.append(user_channel(data["customer_user_id"]))
    return channels
