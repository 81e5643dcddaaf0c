"""The one interface every path implements, so the chat route never knows which ran."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from api.protocol import ChatCompletionRequest
from api.request_record import RequestRecord
from api.routing.decision import RoutingDecision


@dataclass(slots=True)
class ChatCall:
    """A validated chat request on its way down one path."""

    body: dict[str, Any]  # the client's JSON object, `model` already the upstream model
    request: ChatCompletionRequest  # the validated view of the same body
    decision: RoutingDecision
    record: RequestRecord  # paths add tokens, upstream time, steps, tool calls


@dataclass(slots=True)
class JsonResult:
    """A complete `chat.completion` (or other JSON) body, ready to send."""

    body: bytes


@dataclass(slots=True)
class StreamResult:
    """The JSON payloads of a stream's SSE events, in order, without the final `[DONE]`.

    The iterator may raise a `GatewayError` after it started; the response turns that
    into a final error event. It must release its resources in `finally` (it is closed
    on client disconnect).
    """

    events: AsyncIterator[bytes]


PathResult = JsonResult | StreamResult


class ChatPath(Protocol):
    """Serves one routed request; raises `GatewayError` for failures before any output."""

    async def run(self, call: ChatCall) -> PathResult: ...
