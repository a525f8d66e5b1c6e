"""Publishing notifications: the one function other domains call, and the event routes.

Only committed facts are sent: `notify` is meant for after-commit code (an events subscriber,
a job after its unit of work); lending's events arrive here through the event bus after their
transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from bazaar.auth.roles import Role
from bazaar.events import Event, Subscriber
from bazaar.realtime.broker import Publication
from bazaar.realtime.endpoint import redact_tokens_in_server_logs
from bazaar.realtime.hub import Hub
from bazaar.realtime.messages import NotificationType
from bazaar.realtime.routing import (
    BROADCAST,
    LENDING_EVENTS,
    lending_channels,
    officer_channel,
    role_channel,
    user_channel,
)

log = structlog.get_logger(__name__)

# Auth's after-commit events that end sessions: every session of the user, or the one named
# (by login session, or by API key).
_ALL_SESSIONS_ENDED = "auth.sessions_ended"
_ONE_CREDENTIAL_ENDED = {
    "auth.session_ended": "session_id",
    "auth.refresh_token_reused": "session_id",
    "auth.api_key_revoked": "api_key_id",
}


def hub_of(state: Any) -> Hub | None:
    """The process's hub; a worker without sockets gets a publish-only one when Redis is set."""
    hub: Hub | None = getattr(state, "realtime", None)
    if hub is None and getattr(state, "redis", None) is not None:
        hub = Hub.build(state.settings, redis=state.redis, registry=CollectorRegistry())
        setattr(state, "realtime", hub)  # noqa: B010 - state objects are open namespaces
    return hub


async def notify(
    state: Any,
    *,
    type: NotificationType,
    data: Mapping[str, Any],
    users: Iterable[object] = (),
    officers: Iterable[object] = (),
    roles: Iterable[Role] = (),
    everyone: bool = False,
) -> list[Publication]:
    """Send `type` with `data` to the given users, officers' portfolios, roles, or everyone.

    `state` is `app.state` (or a runtime with `settings` and `redis`). Call it only once the
    fact is committed. Data must be JSON-able (UUIDs, decimals and datetimes become strings).
    """
    channels = [BROADCAST] if everyone else []
    channels += [user_channel(u) for u in users] + [officer_channel(o) for o in officers]
    channels += [role_channel(r) for r in roles]
    hub = hub_of(state)
    if hub is None:
        log.warning("realtime_notify_without_hub", type=type.value)
        return []
    return [await hub.publish(channel, type, data) for channel in dict.fromkeys(channels)]


def event_routes(hub: Hub) -> Subscriber:
    async def route(events: Sequence[Event]) -> None:
        for event in events:
            await _route(hub, event)

    return route


async def _route(hub: Hub, event: Event) -> None:
    if event.type in LENDING_EVENTS:
        kind = NotificationType(event.type)
        for channel in lending_channels(event.data):
            await hub.publish(channel, kind, event.data)
    elif event.type == _ALL_SESSIONS_ENDED:
        await hub.revoke(user_id=str(event.data["user_id"]))
    elif event.type in _ONE_CREDENTIAL_ENDED:
        credential = str(event.data[_ONE_CREDENTIAL_ENDED[event.type]])
        await hub.revoke(user_id=str(event.data["user_id"]), credential=credential)


async def start_hub(app: FastAPI) -> Hub:
    """Start the app's hub on `app.state.realtime`, fed by the after-commit events; the
    lifespan closes it."""
    redact_tokens_in_server_logs()
    hub = Hub.build(app.state.settings, redis=app.state.redis, registry=app.state.metrics.registry)
    await hub.start()
    app.state.realtime = hub
    # Jobs of the in-process scheduler get the runtime, not app.state: let them notify too.
    setattr(app.state.runtime, "realtime", hub)  # noqa: B010 - Runtime is an open record
    app.state.events.subscribe(event_routes(hub))
    return hub


def route_events(runtime: Any) -> None:
    """For a process without sockets (`bazaar worker`): its committed events still become
    notifications, published through Redis to the web workers (a no-op when embedded)."""
    hub = hub_of(runtime)
    if hub is not None:
        runtime.events.subscribe(event_routes(hub))
