"""One socket: its audience, its bounded send queue, its flood bucket and its resume state.

The hub never awaits a socket. A frame for an idle socket is written on the spot when the
transport takes it without waiting (the usual case); otherwise it joins the socket's queue and
the socket's own sender task writes. When the queue is full the client is not reading, and it
is dropped.
"""

from __future__ import annotations

import asyncio
import time
import types
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from starlette.websockets import WebSocket

from bazaar.auth.principal import Principal
from bazaar.realtime.broker import History, Publication
from bazaar.realtime.routing import channels_of, default_types

log = structlog.get_logger(__name__)

# A close that cannot be written (the client stopped reading) is given up after this long.
_CLOSE_TIMEOUT = 1.0
_FORCE_CLOSE_AFTER = 2.0


@dataclass
class _Delivered:
    """Offsets first..last of one epoch were handled live on this socket, without a gap."""

    epoch: str
    first: int
    last: int


async def _finish(send: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive `send`, begun outside any task, on from the future it suspended on, as the task
    running it would have."""
    while True:
        thrown: BaseException | None = None
        try:
            if waiting is None:
                await _yield()
            else:
                waiting._asyncio_future_blocking = False  # claimed, as a task claims it
                await waiting
        except BaseException as exc:
            # `send` reads the future's own outcome itself; anything else (this task being
            # cancelled) is thrown into it.
            if waiting is None or not _outcome_of(waiting, exc):
                thrown = exc
        try:
            waiting = send.send(None) if thrown is None else send.throw(thrown)
        except StopIteration:
            return


def _outcome_of(future: asyncio.Future[Any], exc: BaseException) -> bool:
    return future.done() and (future.cancelled() or future.exception() is exc)


@types.coroutine
def _yield() -> Generator[None, None, None]:
    """What a bare `yield` (asyncio.sleep(0)) asks of the task running it."""
    yield


class FloodBucket:
    """Token bucket; `strikes` counts messages refused in a row."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()
        self.strikes = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self.strikes = 0
            return True
        self.strikes += 1
        return False


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        principal: Principal,
        *,
        credential: str | None,
        queue_limit: int,
        on_sent: Callable[[int], None],
        slot: int = 0,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.websocket = websocket
        self.principal = principal
        self.user_id = str(principal.user_id)
        # The login session or API key the socket authenticated with: what a revocation names.
        self.credential = credential
        self.channels = channels_of(principal)
        self.types: set[str] = set(default_types(principal.role))
        self.chose_types = False
        self.last_seen = time.monotonic()
        self.slot = slot  # which of the hub's heartbeat ticks serves this socket
        self.finished = asyncio.Event()
        self._limit = queue_limit
        self._on_sent = on_sent
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        # The sender waits for work with nothing queued and no write in progress: a new frame
        # may be written at once, in order, without waking it.
        self._idle = False
        # A write begun on the spot that had to wait (the transport is paused): the sender
        # finishes it before anything queued.
        self._unfinished: tuple[Coroutine[Any, Any, None], Any] | None = None
        self._closing = False
        self._close_code: int | None = None
        self._delivered: dict[str, _Delivered] = {}
        self._recovering: list[Publication] | None = None
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"ws-send-{self.id}")

    @property
    def closing(self) -> bool:
        return self._closing or self.finished.is_set()

    def subscribe(self, types: list[str]) -> None:
        """The first subscription replaces the role's defaults; later ones add to it."""
        if not self.chose_types:
            self.types.clear()
            self.chose_types = True
        self.types.update(types)

    def push(self, text: str) -> bool:
        """Queue a frame; false when the queue is full (the client is not reading)."""
        if self.closing:
            return True
        if len(self._queue) >= self._limit:
            return False
        if self._idle:
            self._write_now(text)
        else:
            self._queue.append(text)
            self._wake.set()
        return True

    def _write_now(self, text: str) -> None:
        """Step the ASGI send to its end or to its first wait, which the sender then finishes.

        A transport that is not paused takes the frame without waiting. Waking the sender
        instead leaves a future per socket alive until that socket's next frame: at thousands
        of sockets those reach the oldest GC generation and set off full collections (~0.6 s
        at 5,000 sockets) in the middle of broadcasts.
        """
        send = self.websocket.send_text(text)
        try:
            waiting = send.send(None)
        except StopIteration:
            self._on_sent(1)
            return
        except Exception as exc:  # the peer went away mid-write: nothing left to tell it
            log.debug("ws_send_failed", error=str(exc), connection=self.id)
            self._closing = True
            self._wake.set()
            return
        self._unfinished = (send, waiting)
        self._idle = False
        self._wake.set()

    def offer(self, publication: Publication, wire: Callable[[], str]) -> bool:
        """Deliver a live publication once; false when the socket must be dropped."""
        if self._recovering is not None:
            self._recovering.append(publication)
            return len(self._recovering) <= self._limit
        if not self._advance(publication):
            return True
        if publication.payload.get("type") not in self.types:
            return True
        return self.push(wire())

    def _advance(self, publication: Publication) -> bool:
        seen = self._delivered.get(publication.channel)
        if seen is None or seen.epoch != publication.epoch:
            self._delivered[publication.channel] = _Delivered(
                publication.epoch, publication.offset, publication.offset
            )
            return True
        if publication.offset <= seen.last:
            return False
        seen.last = publication.offset
        return True

    def begin_recovery(self) -> None:
        self._recovering = []

    def replay(self, history: History, *, since: int, wire: Callable[[Publication], str]) -> bool:
        """Send what was missed after `since` and not already sent live; false on overflow."""
        if not history.publications:
            return True
        channel = history.publications[0].channel
        seen = self._delivered.get(channel)
        if seen is not None and seen.epoch != history.epoch:
            seen = None
        for publication in history.publications:
            if seen is not None and seen.first <= publication.offset <= seen.last:
                continue
            if publication.payload.get("type") in self.types and not self.push(wire(publication)):
                return False
        last = history.offset if seen is None else max(seen.last, history.offset)
        self._delivered[channel] = _Delivered(history.epoch, since + 1, last)
        return True

    def end_recovery(self, wire: Callable[[Publication], str]) -> bool:
        buffered, self._recovering = self._recovering or [], None
        return all(self.offer(publication, partial(wire, publication)) for publication in buffered)

    def close(self, code: int | None, *, discard: bool = False) -> None:
        """Close with `code` after the queued frames (dropped with `discard`); None when the
        client is already gone."""
        if self.closing:
            return
        self._closing = True
        self._close_code = code
        if discard or code is None:
            self._queue.clear()
        self._wake.set()
        if code is None:
            self.finished.set()
        else:
            # The sender may be stuck writing to a peer that vanished (the reason for a
            # heartbeat timeout): then the close never gets its turn, so force it.
            loop = asyncio.get_running_loop()
            loop.call_later(_FORCE_CLOSE_AFTER, self._force_close, code)

    def _force_close(self, code: int) -> None:
        if not self.finished.is_set():
            self.abort(code)

    def abort(self, code: int) -> None:
        """Drop a socket whose sender is stuck writing to a client that does not read."""
        if self.finished.is_set():
            return
        self._closing = True
        self._close_code = code
        self._queue.clear()
        if self._sender is not None:
            self._sender.cancel()
        self._sender = asyncio.create_task(self._close(code), name=f"ws-abort-{self.id}")

    async def _send_loop(self) -> None:
        try:
            while True:
                sent = 0
                if self._unfinished is not None:
                    await _finish(*self._unfinished)
                    self._unfinished = None
                    sent += 1
                while self._queue:
                    await self.websocket.send_text(self._queue.popleft())
                    sent += 1
                if sent:
                    self._on_sent(sent)
                if self._closing:
                    break
                self._wake.clear()
                self._idle = True
                try:
                    await self._wake.wait()
                finally:
                    self._idle = False
        except Exception as exc:  # the peer went away mid-write: nothing left to tell it
            log.debug("ws_send_failed", error=str(exc), connection=self.id)
            self.finished.set()
            return
        if self._close_code is not None:
            await self._close(self._close_code)
        self.finished.set()

    async def _close(self, code: int) -> None:
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await self.websocket.close(code)
        except Exception as exc:  # the close frame cannot be written; the server's ping ends it
            log.debug("ws_close_failed", error=str(exc), connection=self.id)
        finally:
            self.finished.set()

    async def wait_sender(self) -> None:
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
