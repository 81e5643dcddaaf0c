"""The SSE answer of every streaming path: frames, a final error event, `[DONE]`.

A stream never ends by cutting the connection: a `GatewayError` (or a bug) raised by
the path after the first byte becomes `data: {"error": ...}` followed by
`data: [DONE]`, which the OpenAI SDKs raise as `APIError`; so does a stream the shutdown
drain cuts (`service_unavailable` / `draining`). The path's iterator is closed in every
case, from the first send on (shielded, so a client disconnect still closes the
upstream). A stream quiet for `SSE_HEARTBEAT_SECONDS` gets `: keep-alive` comment lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import structlog
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.errors import GatewayError, error_event_payload, internal_error
from api.heartbeat import Heartbeat
from api.lifecycle.drain import draining_error, in_flight_of
from api.protocol import DONE_FRAME, sse_frame
from api.request_record import RequestRecord
from api.shielded import close_shielded

log = structlog.get_logger(__name__)

SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # tell nginx-style proxies not to buffer the stream
}


class EventStreamResponse(Response):
    """An ASGI response streaming the JSON payloads of `events` as Server-Sent Events."""

    media_type = "text/event-stream"

    def __init__(
        self, events: AsyncIterator[bytes], record: RequestRecord | None, heartbeat_seconds: float = 0.0
    ) -> None:
        # Like Starlette's StreamingResponse: no body to render up front, only headers.
        self.status_code = 200
        self.background = None
        self.init_headers(SSE_HEADERS)
        self.events = events
        self.record = record
        self.heartbeat_seconds = heartbeat_seconds  # 0: no keep-alive comments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        heartbeat: Heartbeat | None = None
        try:
            # Inside the `try`: a client gone before the headers still closes the upstream.
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if self.heartbeat_seconds > 0:
                heartbeat = Heartbeat(send, self.heartbeat_seconds)
                send = heartbeat.send
            failure = await self._relay_until_cut(scope, send)
            if failure is not None:
                if self.record is not None:
                    self.record.fail(failure)
                await send(
                    {
                        "type": "http.response.body",
                        "body": sse_frame(error_event_payload(failure)),
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": DONE_FRAME, "more_body": False})
        finally:
            if heartbeat is not None:
                heartbeat.stop()
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await close_shielded(aclose)

    async def _relay_until_cut(self, scope: Scope, send: Send) -> GatewayError | None:
        """Relay the events; when the shutdown drain cuts the stream, end it with `draining`."""
        in_flight = in_flight_of(scope)
        with anyio.CancelScope() as relay:
            if in_flight is not None:
                in_flight.cut_with(relay.cancel)
            return await self._relay(send)
        return draining_error()  # only reached when the drain cancelled `relay`

    async def _relay(self, send: Send) -> GatewayError | None:
        try:
            async for payload in self.events:
                await send({"type": "http.response.body", "body": sse_frame(payload), "more_body": True})
        except GatewayError as error:
            return error
        except Exception:
            request_id = self.record.request_id if self.record else None
            log.exception("stream_failed", request_id=request_id)
            return internal_error()
        return None
