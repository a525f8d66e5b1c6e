"""Publishing notifications: the one function other code calls, and the event routes.

Only committed facts are sent: `notify` is meant for after-commit code (an events subscriber,
a job after its unit of work); domain events arrive here through the event bus after their
transaction commits and go to the audience they name (`bazaar.events`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from bazaar.events import Audience, CredentialsEnded, Event, Subscriber
from bazaar.realtime.broker import Publication
from bazaar.realtime.endpoint import redact_tokens_in_server_logs
from bazaar.realtime.hub import Hub
from bazaar.realtime.routing import audience_channels
from bazaar.runtime import Runtime

log = structlog.get_logger(__name__)


def hub_of(runtime: Runtime) -> Hub | None:
    """The process's hub; a worker without sockets gets a publish-only one when Redis is set."""
    if runtime.realtime is None and runtime.redis is not None:
        runtime.realtime = Hub.build(
            runtime.settings, redis=runtime.redis, registry=CollectorRegistry()
        )
    return runtime.realtime


async def notify(
    runtime: Runtime, *, type: str, data: Mapping[str, Any], audience: Audience
) -> list[Publication]:
    """Send `type` with `data` to `audience`. Call it only once the fact is committed. Data
    must be JSON-able (UUIDs, decimals and datetimes become strings)."""
    hub = hub_of(runtime)
    if hub is None:
        log.warning("realtime_notify_without_hub", type=type)
        return []
    return [await hub.publish(channel, type, data) for channel in audience_channels(audience)]


def event_routes(hub: Hub) -> Subscriber:
    async def route(events: Sequence[Event]) -> None:
        for event in events:
            await _route(hub, event)

    return route


async def _route(hub: Hub, event: Event) -> None:
    if isinstance(event, CredentialsEnded):
        await hub.revoke(user_id=event.user_id, credential=event.credential)
    elif event.notification is not None:
        for channel in audience_channels(event.audience()):
            await hub.publish(channel, event.notification, event.data)


async def start_hub(runtime: Runtime, registry: CollectorRegistry) -> Hub:
    """Start the web app's hub on `runtime.realtime`, fed by the after-commit events; the
    lifespan closes it."""
    redact_tokens_in_server_logs()
    hub = Hub.build(runtime.settings, redis=runtime.redis, registry=registry)
    await hub.start()
    runtime.realtime = hub
    runtime.events.subscribe(event_routes(hub))
    return hub


def route_events(runtime: Runtime) -> None:
    """For a process without sockets (`bazaar worker`): its committed events still become
    notifications, published through Redis to the web workers (a no-op when embedded)."""
    hub = hub_of(runtime)
    if hub is not None:
        runtime.events.subscribe(event_routes(hub))
