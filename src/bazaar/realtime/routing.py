"""Who may hear what: channels of a socket, types per role, channels of a domain event.

A socket joins only channels derived from its principal (never ones the client names), so
a notification reaches exactly the audience of the channels it is published to:
`user:{id}` (the user's own records), `officer:{id}` (an officer's portfolio), `role:{role}`,
and `broadcast` (everyone).
"""

from __future__ import annotations

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.events import Audience
from bazaar.realtime.messages import ALWAYS_ON
from bazaar.realtime.messages import NotificationType as T

BROADCAST = "broadcast"
# Control messages between workers (revocations); no socket ever joins it.
CONTROL = "control"
# Presence news, for admins only; apart from role:admin so its churn never pushes business
# notifications out of that channel's history.
PRESENCE = "presence"

# Business notifications reach every role but nodes. The domains' types are registered at
# import of `bazaar.domains`; maintenance is the platform's own.
_business: set[str] = {T.SYSTEM_MAINTENANCE}
_PRESENCE = frozenset({T.USER_ONLINE, T.USER_OFFLINE})


def register_business_type(name: str) -> None:
    """A domain's notification type, delivered to admins, officers and customers."""
    if name in _PRESENCE or name in (T.SYNC_STATUS, *ALWAYS_ON):
        raise ValueError(f"{name} is a platform notification type")
    _business.add(name)


def default_types(role: Role) -> frozenset[str]:
    """What a new socket of `role` receives until it subscribes otherwise."""
    if role is Role.NODE:
        return frozenset({T.SYNC_STATUS, T.SYSTEM_MAINTENANCE})
    if role is Role.CUSTOMER:
        return frozenset(_business)
    return frozenset(_business | {T.SYNC_STATUS})


def allowed_types(role: Role) -> frozenset[str]:
    """What `role` may subscribe to: presence is opt-in and for admins only, as it tells who
    uses the platform when."""
    if role is Role.ADMIN:
        return default_types(role) | _PRESENCE
    return default_types(role)


def known_types() -> frozenset[str]:
    return frozenset(_business | _PRESENCE | {T.SYNC_STATUS})


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
