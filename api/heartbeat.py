"""SSE keep-alive: a comment line on a stream that has been quiet for a while.

A reasoning step or a slow first token can leave a stream silent for longer than a
proxy's idle timeout (nginx: 60 s), which then cuts it. A comment line (`: keep-alive`)
is ignored by every SSE parser (the OpenAI SDKs included) and keeps the connection busy.

Cheap on the hot path: the writer stamps the time of each frame it sends; one timer per
interval (not per chunk) looks at the stamp and either re-arms for the rest of the quiet
time or, when the stream was quiet the whole interval, sends the comment from a short
task (a timer callback cannot await). The writer waits for that send before its next
frame, so two frames never interleave.
"""

from __future__ import annotations

import asyncio

import structlog
from starlette.types import Message, Send

log = structlog.get_logger(__name__)

KEEP_ALIVE_FRAME = b": keep-alive\n\n"


class Heartbeat:
    """Wraps a stream's `send`: frames go through `send`, keep-alives are added when quiet."""

    def __init__(self, send: Send, interval: float) -> None:
        self._send = send
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._sending = False
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = self._loop.call_at(self._last + interval, self._due)
        self.beats = 0

    async def send(self, message: Message) -> None:
        if self._task is not None:
            await self._task
        self._sending = True
        try:
            await self._send(message)
        finally:
            self._sending = False
            self._last = self._loop.time()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()

    def _due(self) -> None:
        now = self._loop.time()
        if self._sending or now - self._last < self._interval:
            self._timer = self._loop.call_at(max(self._last, now) + self._interval, self._due)
            return
        self._timer = None
        self._task = self._loop.create_task(self._beat())

    async def _beat(self) -> None:
        try:
            await self._send({"type": "http.response.body", "body": KEEP_ALIVE_FRAME, "more_body": True})
            self.beats += 1
        except Exception as exc:
            # The client is gone or the stream is ending: the writer will find out itself.
            log.debug("keep_alive_failed", error=repr(exc))
            return
        finally:
            self._task = None
            self._last = self._loop.time()
        self._timer = self._loop.call_at(self._last + self._interval, self._due)
