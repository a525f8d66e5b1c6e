"""Who may hear what: channels of a socket, types per role, channels of a domain event.

A socket joins only channels derived from its principal (never ones the client names), so
a notification reaches exactly the audience of the channels it is published to:
`user:{id}` (the user's own records), `officer:{id}` (an officer's portfolio), `role:{role}`,
and `broadcast` (everyone).
"""

from __future__ import annotations

from collections.abc import Mapping

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.events import Audience
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
        T.PAYMENT_REVERSED,
        T.COMMENT_ADDED,
        T.TASK_ASSIGNED,
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


def audience_channels(audience: Audience) -> list[str]:
    """The channels that reach exactly `audience`, each once."""
    channels = [BROADCAST] if audience.everyone else []
    channels += [user_channel(u) for u in audience.users]
    channels += [officer_channel(o) for o in audience.officers]
    channels += [role_channel(Role(r)) for r in audience.roles]
    return list(dict.fromkeys(channels))
