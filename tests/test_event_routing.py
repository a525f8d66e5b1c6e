"""Every domain event says where it goes: a notification type with its audience, or internal.

An event class that says neither would be recorded, committed and then heard by nobody, as
`payment_reversed` once was; this fails for it instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bazaar import domains
from bazaar.auth.roles import Role
from bazaar.events import Event
from bazaar.realtime.routing import default_types


def _concrete(cls: type[Event]) -> list[type[Event]]:
    found = []
    for sub in cls.__subclasses__():
        if "type" in vars(sub):
            found.append(sub)
        found += _concrete(sub)
    return found


DOMAIN_EVENTS = [event for domain in domains.DOMAINS for event in domain.events]


def test_every_domain_lists_every_event_class_it_defines() -> None:
    listed = set(DOMAIN_EVENTS)
    defined = {cls for cls in _concrete(Event) if cls.__module__.split(".")[1] in domains.names()}
    assert defined
    assert defined <= listed, defined - listed


@pytest.mark.parametrize("event", DOMAIN_EVENTS, ids=lambda e: e.type)
def test_each_event_is_routed_or_declared_internal(event: type[Event]) -> None:
    assert hasattr(event, "notification"), f"{event.__name__} names no notification (or None)"
    if event.notification is None:
        return
    kind = event.notification
    assert any(kind in default_types(role) for role in Role), f"nobody hears {kind}"


@pytest.mark.parametrize("event", DOMAIN_EVENTS, ids=lambda e: e.type)
def test_each_routed_event_names_an_audience(event: type[Event]) -> None:
    if event.notification is None:
        return
    values: dict[str, Any] = {
        f.name: "00000000-0000-0000-0000-000000000001" for f in dataclasses.fields(event)
    }
    values.pop("occurred_at")
    audience = event(**values).audience()
    assert audience.users or audience.officers or audience.roles or audience.everyone
    assert {Role(role) for role in audience.roles} <= set(Role)
