"""A socket's live delivery and a concurrent resume never duplicate nor lose a message."""

from __future__ import annotations

import asyncio
import functools
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.realtime.realtime_support import RecordingWebSocket

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.realtime.broker import History, Publication
from bazaar.realtime.connection import Connection
from bazaar.realtime.hub import encode

CHANNEL = "broadcast"
EPOCH = "e1"


def publication(offset: int, epoch: str = EPOCH) -> Publication:
    payload = {"type": "system_maintenance", "timestamp": "t", "data": {}}
    return Publication(CHANNEL, offset, epoch, payload)


def history(since: int, top: int, epoch: str = EPOCH) -> History:
    found = [publication(o, epoch) for o in range(since + 1, top + 1)]
    return History(epoch, top, found, True)


async def offsets_sent(socket: RecordingWebSocket, connection: Connection) -> list[int]:
    for _ in range(5):
        await asyncio.sleep(0)
    connection.close(None)
    return [m["offset"] for m in socket.sent]


def new_connection(socket: RecordingWebSocket) -> Connection:
    principal = Principal(user_id=uuid.uuid4(), role=Role.CUSTOMER)
    connection = Connection(
        socket,  # type: ignore[arg-type]
        principal,
        credential=None,
        queue_limit=10_000,
        on_sent=lambda _: None,
    )
    connection.start()
    return connection


def live(connection: Connection, offsets: range) -> None:
    for offset in offsets:
        p = publication(offset)
        assert connection.offer(p, functools.partial(encode, p))


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    since=st.integers(min_value=0, max_value=20),
    missed=st.integers(min_value=0, max_value=20),
    after=st.integers(min_value=0, max_value=10),
)
def test_resume_racing_live_delivery_sends_each_offset_once(
    data: st.DataObject, since: int, missed: int, after: int
) -> None:
    """Live delivery starts at `first_live`; the resume reads history at `top`; live offsets
    up to `buffered` arrive while it runs (before or after `top`: pub/sub may lag)."""
    last = since + missed + after
    first_live = data.draw(st.integers(min_value=since + 1, max_value=last + 1))
    before_resume = data.draw(st.integers(min_value=first_live - 1, max_value=last))
    top = data.draw(st.integers(min_value=max(before_resume, since), max_value=last))
    buffered = data.draw(st.integers(min_value=before_resume, max_value=last))

    async def scenario() -> list[int]:
        socket = RecordingWebSocket()
        connection = new_connection(socket)
        live(connection, range(first_live, before_resume + 1))
        connection.begin_recovery()
        live(connection, range(before_resume + 1, buffered + 1))
        assert connection.replay(history(since, top), since=since, wire=encode)
        assert connection.end_recovery(encode)
        live(connection, range(buffered + 1, last + 1))
        return await offsets_sent(socket, connection)

    sent = asyncio.run(scenario())

    assert sorted(sent) == list(range(since + 1, last + 1))
    replayed = [o for o in sent if o < first_live]
    lived = [o for o in sent if o >= first_live]
    assert replayed == sorted(replayed)
    assert lived == sorted(lived)


async def test_a_new_epoch_restarts_live_delivery() -> None:
    socket = RecordingWebSocket()
    connection = new_connection(socket)
    live(connection, range(1, 4))
    p = publication(1, epoch="e2")
    connection.offer(p, lambda: encode(p))

    assert await offsets_sent(socket, connection) == [1, 2, 3, 1]


async def test_a_full_queue_refuses_more() -> None:
    socket = RecordingWebSocket()
    principal = Principal(user_id=uuid.uuid4(), role=Role.CUSTOMER)
    connection = Connection(
        socket,  # type: ignore[arg-type]
        principal,
        credential=None,
        queue_limit=2,
        on_sent=lambda _: None,
    )

    assert connection.push("a")
    assert connection.push("b")
    assert not connection.push("c")


class StuckWebSocket(RecordingWebSocket):
    """A peer that vanished: writes never complete, and neither does a close."""

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int) -> None:
        await asyncio.Event().wait()


async def test_a_close_behind_a_stuck_write_still_finishes() -> None:
    connection = new_connection(StuckWebSocket())
    connection.push("a frame the peer never takes")
    await asyncio.sleep(0)

    connection.close(4002)

    async with asyncio.timeout(5):
        await connection.finished.wait()


class GatedWebSocket(RecordingWebSocket):
    """Writes wait while `gate` is pending, as they do behind a paused transport."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Future[None] | None = None

    async def send_text(self, text: str) -> None:
        if self.gate is not None:
            await self.gate
        await super().send_text(text)


async def test_a_write_that_must_wait_is_finished_by_the_sender_in_order() -> None:
    socket = GatedWebSocket()
    connection = new_connection(socket)
    await asyncio.sleep(0)
    live(connection, range(1, 2))
    assert [m["offset"] for m in socket.sent] == [1]  # written on the spot

    socket.gate = asyncio.get_running_loop().create_future()
    live(connection, range(2, 5))
    assert [m["offset"] for m in socket.sent] == [1]
    socket.gate.set_result(None)

    assert await offsets_sent(socket, connection) == [1, 2, 3, 4]


async def test_a_write_that_fails_after_waiting_finishes_the_socket() -> None:
    socket = GatedWebSocket()
    connection = new_connection(socket)
    await asyncio.sleep(0)
    socket.gate = asyncio.get_running_loop().create_future()
    live(connection, range(1, 3))
    socket.gate.set_exception(ConnectionResetError())

    async with asyncio.timeout(5):
        await connection.finished.wait()
