from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bazaar.realtime.presence import Presence

PresenceFactory = Callable[..., Presence]


async def test_first_connection_brings_a_user_online_and_last_takes_them_off(
    presence_factory: PresenceFactory,
) -> None:
    presence = presence_factory()

    assert await presence.join(user_id="u1", conn_id="a") is True
    assert await presence.join(user_id="u1", conn_id="b") is False
    assert await presence.leave(user_id="u1", conn_id="a") is False
    assert await presence.leave(user_id="u1", conn_id="b") is True
    assert await presence.online() == {}


async def test_leaving_twice_reports_offline_once(presence_factory: PresenceFactory) -> None:
    presence = presence_factory()
    await presence.join(user_id="u1", conn_id="a")

    assert await presence.leave(user_id="u1", conn_id="a") is True
    assert await presence.leave(user_id="u1", conn_id="a") is False


async def test_counts_connections_per_user_across_workers(
    presence_factory: PresenceFactory,
) -> None:
    one, two = presence_factory(), presence_factory()
    await one.join(user_id="u1", conn_id="a")
    await two.join(user_id="u1", conn_id="b")
    await two.join(user_id="u2", conn_id="c")

    assert await one.online() == {"u1": 2, "u2": 1}
    assert await two.leave(user_id="u1", conn_id="b") is False
    assert await one.online() == {"u1": 1, "u2": 1}


@pytest.mark.parametrize("presence_factory", ["redis"], indirect=True)
async def test_connections_of_a_silent_worker_expire(presence_factory: PresenceFactory) -> None:
    alive, dead = presence_factory(ttl=0.3), presence_factory(ttl=0.3)
    await alive.join(user_id="u1", conn_id="a")
    await dead.join(user_id="u1", conn_id="b")
    await dead.join(user_id="u2", conn_id="c")

    for _ in range(3):
        await asyncio.sleep(0.15)
        await alive.refresh([("u1", "a")])

    assert await alive.online() == {"u1": 1}


@pytest.mark.parametrize("presence_factory", ["redis"], indirect=True)
async def test_refresh_of_nothing_is_harmless(presence_factory: PresenceFactory) -> None:
    presence = presence_factory()
    await presence.refresh([])

    assert await presence.online() == {}
