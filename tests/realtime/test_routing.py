from __future__ import annotations

import uuid

import pytest

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.realtime.messages import NotificationType
from bazaar.realtime.routing import ALLOWED_TYPES, DEFAULT_TYPES, channels_of

USER = uuid.UUID("01a20000-0000-7000-8000-000000000001")


@pytest.mark.parametrize(
    ("role", "extra"),
    [
        (Role.ADMIN, {"presence"}),
        (Role.OFFICER, {f"officer:{USER}"}),
        (Role.CUSTOMER, set()),
        (Role.NODE, set()),
    ],
)
def test_a_socket_joins_its_user_role_and_everyone(role: Role, extra: set[str]) -> None:
    channels = channels_of(Principal(user_id=USER, role=role))

    assert channels == {f"user:{USER}", f"role:{role.value}", "broadcast", *extra}


def test_presence_is_for_admins_who_ask() -> None:
    presence = {NotificationType.USER_ONLINE, NotificationType.USER_OFFLINE}

    assert presence <= ALLOWED_TYPES[Role.ADMIN]
    assert not presence & DEFAULT_TYPES[Role.ADMIN]
    assert not presence & ALLOWED_TYPES[Role.OFFICER]
    assert not presence & ALLOWED_TYPES[Role.CUSTOMER]
