"""EventStreamResponse on its own: keep-alive comments, the drain's cut, cleanup from the first send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from api.heartbeat import KEEP_ALIVE_FRAME
from api.lifecycle.drain import Drain
from api.protocol import DONE_FRAME
from api.request_record import RequestRecord
from api.streaming import EventStreamResponse

CHAT = "/v1/chat/completions"


class Wire:
    """The server side of one response: every message sent, in order."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.changed = asyncio.Event()

    async def send(self, message: dict) -> None:
        self.messages.append(message)
        self.changed.set()

    @property
    def frames(self) -> list[bytes]:
        return [m["body"] for m in self.messages if m["type"] == "http.response.body"]

    async def until(self, condition) -> None:
        while not condition():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)


async def receive() -> dict:
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}


def record() -> RequestRecord:
    return RequestRecord(request_id="r", method="POST", path=CHAT)


def scope(drain: Drain | None = None) -> dict:
    state = {"in_flight": drain.track(CHAT, lambda: None)} if drain else {}
    return {"type": "http", "state": state}


class Events:
    """A path's event iterator that the test drives, and that notes being closed."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._events()

    async def _events(self) -> AsyncIterator[bytes]:
        try:
            yield b'{"n": 1}'
            await self.release.wait()  # the long reasoning step, or the stalled upstream
            yield b'{"n": 2}'
        finally:
            self.closed = True


def stream_of(events: Events, rec: RequestRecord, heartbeat: float = 0.0) -> EventStreamResponse:
    return EventStreamResponse(aiter(events), rec, heartbeat)


async def test_a_quiet_stream_gets_keep_alive_comments_and_nothing_after_done():
    events, wire = Events(), Wire()
    response = stream_of(events, record(), heartbeat=0.01)
    task = asyncio.create_task(response(scope(), receive, wire.send))
    await wire.until(lambda: wire.frames.count(KEEP_ALIVE_FRAME) >= 2)
    events.release.set()
    await asyncio.wait_for(task, 5)
    await asyncio.sleep(0.05)  # a timer left behind would add a comment after [DONE] by now
    frames = [f for f in wire.frames if f != KEEP_ALIVE_FRAME]
    assert frames == [b'data: {"n": 1}\n\n', b'data: {"n": 2}\n\n', DONE_FRAME]
    assert wire.frames[-1] == DONE_FRAME
    assert wire.frames.index(KEEP_ALIVE_FRAME) == 1, "comments come between the frames, not before the start"
    assert wire.messages[0]["type"] == "http.response.start"


async def test_without_a_heartbeat_no_comment_is_sent():
    events, wire = Events(), Wire()
    task = asyncio.create_task(stream_of(events, record())(scope(), receive, wire.send))
    await wire.until(lambda: len(wire.frames) == 1)
    await asyncio.sleep(0.05)
    events.release.set()
    await asyncio.wait_for(task, 5)
    assert KEEP_ALIVE_FRAME not in wire.frames


async def test_a_stream_cut_by_the_drain_ends_with_the_draining_event_and_done():
    events, wire, rec, drain = Events(), Wire(), record(), Drain(deadline=0.0)
    request_scope = scope(drain)
    task = asyncio.create_task(stream_of(events, rec, heartbeat=15)(request_scope, receive, wire.send))
    await wire.until(lambda: len(wire.frames) == 1)
    request_scope["state"]["in_flight"].cut()
    await asyncio.wait_for(task, 5)
    assert wire.frames[-1] == DONE_FRAME
    error = orjson.loads(wire.frames[-2].removeprefix(b"data: "))["error"]
    assert (error["type"], error["code"]) == ("service_unavailable", "draining")
    assert events.closed, "the path's iterator (its upstream) is closed"
    assert (rec.status, rec.error_type, rec.error_code) == ("error", "service_unavailable", "draining")


async def test_a_client_gone_before_the_headers_still_closes_the_upstream():
    events = Events()
    iterator = aiter(events)
    await anext(iterator)  # the path opened its upstream before the response started

    async def gone(message: dict) -> None:
        raise OSError("the client is gone")

    with pytest.raises(OSError, match="gone"):
        await EventStreamResponse(iterator, record())(scope(), receive, gone)
    assert events.closed
