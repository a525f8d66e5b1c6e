"""Realtime over HTTP (presence, broadcast) and the WebSocket endpoints."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, WebSocket, status

from bazaar.auth.dependencies import AdminOnly
from bazaar.realtime.dependencies import HubDep
from bazaar.realtime.endpoint import serve
from bazaar.realtime.messages import NotificationType
from bazaar.realtime.routing import BROADCAST
from bazaar.realtime.schemas import (
    ActiveConnections,
    BroadcastCreate,
    BroadcastRead,
    PresenceEntry,
    PresenceRead,
)
from bazaar.routing import Route

router = APIRouter(tags=["realtime"], route_class=Route)
ws_router = APIRouter()


@router.get("/ws/active-connections")
async def active_connections(_: AdminOnly, hub: HubDep) -> ActiveConnections:
    """Admins: open WebSockets on every worker, users online, and the sockets of this worker."""
    online = await hub.presence.online()
    return ActiveConnections(
        total_connections=sum(online.values()),
        online_users=len(online),
        this_worker=hub.local_connections,
    )


@router.get("/ws/presence")
async def presence(_: AdminOnly, hub: HubDep) -> PresenceRead:
    """Admins: who is connected now, across every worker, with each user's open sockets.
    Like the presence notifications, it tells who uses the platform when: admins only."""
    online = await hub.presence.online()
    users = [PresenceEntry(user_id=uuid.UUID(u), connections=n) for u, n in sorted(online.items())]
    return PresenceRead(users=users)


@router.post("/notifications/broadcast", status_code=status.HTTP_202_ACCEPTED)
async def broadcast(body: BroadcastCreate, admin: AdminOnly, hub: HubDep) -> BroadcastRead:
    """Send `system_maintenance` to every connected user, on every worker."""
    data = {**body.model_dump(mode="json"), "by": str(admin.user_id)}
    sent = await hub.publish(BROADCAST, NotificationType.SYSTEM_MAINTENANCE, data)
    return BroadcastRead(channel=sent.channel, offset=sent.offset, epoch=sent.epoch)


@ws_router.websocket("/ws")
async def socket(websocket: WebSocket) -> None:
    await serve(websocket, path_user=None)


@ws_router.websocket("/ws/connect/{user_id}")
async def socket_for_user(websocket: WebSocket, user_id: str) -> None:
    await serve(websocket, path_user=user_id)
