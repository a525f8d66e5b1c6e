from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from tests.realtime.realtime_support import BrokerFactory

from bazaar.realtime.broker import Broker, Publication


async def _publish(broker: Broker, channel: str, count: int) -> list[Publication]:
    return [await broker.publish(channel, {"n": n}) for n in range(count)]


async def _received(got: list[Publication], count: int) -> None:
    async with asyncio.timeout(2):
        while len(got) < count:  # noqa: ASYNC110 - the broker calls a plain list.append
            await asyncio.sleep(0.005)


async def test_offsets_grow_by_one_per_channel_within_one_epoch(brokers: BrokerFactory) -> None:
    broker = await brokers.make()
    first = await _publish(broker, "user:a", 3)
    other = await broker.publish("user:b", {"n": 0})

    assert [p.offset for p in first] == [1, 2, 3]
    assert len({p.epoch for p in first}) == 1
    assert other.offset == 1


async def test_subscribers_get_every_publication_in_order(brokers: BrokerFactory) -> None:
    broker = await brokers.make()
    got: list[Publication] = []
    broker.subscribe(got.append)

    sent = await _publish(broker, "role:admin", 50)

    await _received(got, 50)
    assert [(p.channel, p.offset, p.payload) for p in got] == [
        (p.channel, p.offset, p.payload) for p in sent
    ]


async def test_unsubscribed_handler_gets_nothing_more(brokers: BrokerFactory) -> None:
    broker = await brokers.make()
    got: list[Publication] = []
    kept: list[Publication] = []
    stop = broker.subscribe(got.append)
    broker.subscribe(kept.append)

    await broker.publish("c", {"n": 1})
    await _received(kept, 1)
    stop()
    await broker.publish("c", {"n": 2})
    await _received(kept, 2)

    assert [p.payload["n"] for p in got] == [1]


async def test_a_failing_handler_does_not_starve_the_others(brokers: BrokerFactory) -> None:
    broker = await brokers.make()
    got: list[Publication] = []

    def broken(_: Publication) -> None:
        raise RuntimeError("boom")

    broker.subscribe(broken)
    broker.subscribe(got.append)
    await _publish(broker, "c", 2)

    await _received(got, 2)


async def test_history_returns_exactly_what_came_after_the_offset(brokers: BrokerFactory) -> None:
    broker = await brokers.make()
    sent = await _publish(broker, "user:a", 10)

    history = await broker.history("user:a", since=6)

    assert history.complete
    assert (history.epoch, history.offset) == (sent[0].epoch, 10)
    assert [(p.offset, p.payload) for p in history.publications] == [
        (p.offset, p.payload) for p in sent[6:]
    ]


async def test_history_at_the_top_is_complete_and_empty(brokers: BrokerFactory) -> None:
    broker = await brokers.make()
    await _publish(broker, "c", 3)

    history = await broker.history("c", since=3)

    assert history.complete
    assert history.publications == []


async def test_position_of_a_channel_without_messages(brokers: BrokerFactory) -> None:
    broker = await brokers.make()

    position = await broker.history("fresh", since=None)
    first = await broker.publish("fresh", {})

    assert (position.offset, position.publications) == (0, [])
    assert first.epoch == position.epoch
    assert (await broker.history("fresh", since=0)).complete


async def test_history_beyond_its_size_cannot_be_recovered(brokers: BrokerFactory) -> None:
    broker = await brokers.make(history_size=10)
    await _publish(broker, "c", 400)

    old = await broker.history("c", since=0)
    recent = await broker.history("c", since=395)

    assert not old.complete
    assert recent.complete
    assert [p.offset for p in recent.publications] == [396, 397, 398, 399, 400]


async def test_the_history_window_is_exactly_its_size(brokers: BrokerFactory) -> None:
    broker = await brokers.make(history_size=10)
    await _publish(broker, "c", 30)

    assert not (await broker.history("c", since=19)).complete
    assert [p.offset for p in (await broker.history("c", since=20)).publications] == list(
        range(21, 31)
    )


async def test_an_offset_from_the_future_is_not_complete(brokers: BrokerFactory) -> None:
    broker = await brokers.make()
    await _publish(broker, "c", 2)

    assert not (await broker.history("c", since=5)).complete


async def test_expired_messages_leave_the_offset_but_not_the_history(
    brokers: BrokerFactory,
) -> None:
    broker = await brokers.make(history_ttl=0.2, meta_ttl=30)
    sent = await _publish(broker, "c", 3)
    await brokers.advance(0.4)

    missed = await broker.history("c", since=1)
    current = await broker.history("c", since=3)

    assert (missed.complete, missed.publications) == (False, [])
    assert current.complete
    assert (current.epoch, current.offset) == (sent[0].epoch, 3)


async def test_lost_channel_gets_a_new_epoch_and_restarts_offsets(brokers: BrokerFactory) -> None:
    broker = await brokers.make(history_ttl=0.2, meta_ttl=0.2)
    before = await _publish(broker, "c", 3)
    await brokers.advance(0.4)

    resumed = await broker.history("c", since=3)
    after = await broker.publish("c", {})

    assert resumed.epoch != before[0].epoch
    assert not resumed.complete
    assert (after.offset, after.epoch) == (1, resumed.epoch)


async def test_channel_names_are_checked(brokers: BrokerFactory) -> None:
    broker = await brokers.make()

    with pytest.raises(ValueError, match="invalid channel"):
        await broker.publish("bad channel\n", {})


@pytest.mark.parametrize("brokers", ["redis"], indirect=True)
async def test_a_publication_on_one_process_reaches_the_other(brokers: BrokerFactory) -> None:
    here, there = await brokers.make(), await brokers.make()
    got: list[Publication] = []
    there.subscribe(got.append)

    sent = await here.publish("user:x", {"hello": "world"})

    await _received(got, 1)
    assert got == [sent]
    assert (await there.history("user:x", since=0)).publications == [sent]


async def _pubsub_client_ids(redis: Redis) -> set[int]:
    return {int(c["id"]) for c in await redis.client_list(_type="pubsub")}


@pytest.mark.parametrize("brokers", ["redis"], indirect=True)
async def test_redis_reader_survives_a_dropped_connection(brokers: BrokerFactory) -> None:
    assert brokers.redis is not None
    before = await _pubsub_client_ids(brokers.redis)
    broker = await brokers.make()
    got: list[Publication] = []
    broker.subscribe(got.append)
    for client_id in await _pubsub_client_ids(brokers.redis) - before:
        await brokers.redis.client_kill_filter(_id=str(client_id))

    async with asyncio.timeout(5):
        while not got:
            await broker.publish("c", {})
            await asyncio.sleep(0.1)
