from __future__ import annotations

import uuid

import pytest

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.realtime.messages import NotificationType
from bazaar.realtime.routing import (
    allowed_types,
    channels_of,
    default_types,
    register_business_type,
)

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

    assert presence <= allowed_types(Role.ADMIN)
    assert not presence & default_types(Role.ADMIN)
    assert not presence & allowed_types(Role.OFFICER)
    assert not presence & allowed_types(Role.CUSTOMER)


def test_a_domains_types_reach_people_not_nodes_and_cannot_take_the_platforms() -> None:
    from bazaar import domains  # noqa: F401 - importing it registers every domain's types

    for role in (Role.ADMIN, Role.OFFICER, Role.CUSTOMER):
        assert {"order_status_change", "loan_status_change"} <= default_types(role)
    assert default_types(Role.NODE) == {"sync_status", "system_maintenance"}
    for platform in ("user_online", "sync_status", "heartbeat"):
        with pytest.raises(ValueError, match="platform"):
            register_business_type(platform)
