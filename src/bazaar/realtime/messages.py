"""The WebSocket protocol as typed messages.

Server -> client notifications carry `channel`, `offset` and `epoch` so a client can resume
where it left off; control messages (`heartbeat`, `error`, `subscribed`, `recovered`) carry
no offset because they are never replayed.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator


class NotificationType(StrEnum):
    """The platform's own notification types. A domain names its own in its events
    (`Event.notification`); `bazaar.domains` registers them (`routing.register_business_type`),
    so realtime never lists a domain's vocabulary."""

    SYNC_STATUS = "sync_status"
    SYSTEM_MAINTENANCE = "system_maintenance"
    USER_ONLINE = "user_online"
    USER_OFFLINE = "user_offline"


class CloseCode(IntEnum):
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008  # flooding after being throttled
    MESSAGE_TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013  # the worker holds its maximum of connections
    REVOKED = 4001  # logout, deactivation or a role change
    HEARTBEAT_TIMEOUT = 4002
    SLOW_CONSUMER = 4003  # the send queue filled: the client did not read


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelPosition(_Message):
    offset: int
    epoch: str


class Heartbeat(_Message):
    type: Literal["heartbeat"] = "heartbeat"
    timestamp: datetime


class ErrorMessage(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str


# Sent to every socket whatever it subscribes to: `subscribe` accepts it, `unsubscribe` cannot
# turn it off.
ALWAYS_ON = frozenset({"heartbeat"})


class Ignored(_Message):
    """A type named in `subscribe` or `unsubscribe` that changed nothing, and why."""

    type: str
    reason: Literal["unknown", "forbidden", "always_on"]


class Subscribed(_Message):
    type: Literal["subscribed"] = "subscribed"
    notification_types: list[str]
    channels: dict[str, ChannelPosition]
    ignored: list[Ignored] = Field(default_factory=list)


class Recovered(_Message):
    """Answer to `resume`: `recovered` is false when any channel's missed messages are gone."""

    type: Literal["recovered"] = "recovered"
    recovered: bool
    channels: dict[str, ChannelPosition]


# Any name, so that one a client knows and this server does not (or `heartbeat`) leaves the
# rest of its subscription standing; the answer lists what was ignored.
TypeNames = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(min_length=1, max_length=64),
]


class Subscribe(_Message):
    type: Literal["subscribe"]
    notification_types: TypeNames


class Unsubscribe(_Message):
    type: Literal["unsubscribe"]
    notification_types: TypeNames


class Pong(_Message):
    type: Literal["pong"]


class Resume(_Message):
    """`epoch` is one string for every channel in `since`, or a map per channel."""

    type: Literal["resume"]
    since: dict[str, Annotated[int, Field(ge=0)]] = Field(min_length=1, max_length=64)
    epoch: str | dict[str, str]

    @model_validator(mode="after")
    def _epoch_for_every_channel(self) -> Resume:
        if isinstance(self.epoch, dict) and not set(self.since) <= set(self.epoch):
            raise ValueError("epoch must name every channel in since")
        return self

    def epoch_of(self, channel: str) -> str:
        return self.epoch if isinstance(self.epoch, str) else self.epoch[channel]


ClientMessage = Annotated[Subscribe | Unsubscribe | Pong | Resume, Field(discriminator="type")]
client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
