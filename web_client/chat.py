"""`POST /api/chat`: the page's chat, sent to the gateway with the SDK, its SSE stream relayed unchanged.

A pure ASGI endpoint rather than a request handler, because the whole exchange must
live in one cancel scope: when the browser goes away (the Stop button aborts its fetch),
the exchange is cancelled wherever it is, even while the gateway has not answered yet
(a reasoning answer sends its headers only once the first step is planned), and the
gateway response is closed, so the gateway sees the disconnect within moments.
"""

from __future__ import annotations

from contextlib import AsyncExitStack, suppress
from typing import Any, Literal

import anyio
import httpx2
import openai
from openai import AsyncAPIResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from web_client.gateway import broken_stream_event, error_body, error_response, forwarded_headers

RoutingMode = Literal["auto", "passthrough", "reasoning", "orchestration"]
# The gateway keeps an X-Client-Request-Id / X-Session-ID only when it is such a token.
SANE_TOKEN = r"^[A-Za-z0-9._:-]{1,128}$"
SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # nginx-style proxies in front must not buffer the stream
}
CLOSE_DEADLINE_SECONDS = 2.0


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatForm(BaseModel):
    """What the page sends: the conversation so far and the chat panel's settings."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    routing_mode: RoutingMode
    temperature: float | None = Field(None, ge=0, le=2)
    session_id: str | None = Field(None, pattern=SANE_TOKEN, description="one per conversation: X-Session-ID")
    request_id: str | None = Field(None, pattern=SANE_TOKEN, description="made by the page: X-Client-Request-Id")

    def create_arguments(self) -> dict[str, Any]:
        """Keyword arguments of `chat.completions.create` for this form (always streamed)."""
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": [message.model_dump() for message in self.messages],
            "stream": True,
            # The last chunk then carries the answer's usage (tokens, and a cost when the gateway has one).
            "stream_options": {"include_usage": True},
            "extra_headers": {"X-Routing-Mode": self.routing_mode},
        }
        if self.temperature is not None:
            arguments["temperature"] = self.temperature
        if self.session_id is not None:
            arguments["extra_headers"]["X-Session-ID"] = self.session_id
        if self.request_id is not None:
            # The page's own id; the gateway answers with its own X-Request-Id and keeps this beside it.
            arguments["extra_headers"]["X-Client-Request-Id"] = self.request_id
        return arguments


def describe(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())


class ChatRelay:
    """The ASGI endpoint of `POST /api/chat`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            form = ChatForm.model_validate_json(await request.body())
        except ClientDisconnect:
            return
        except ValidationError as error:
            body = error_body(describe(error), "invalid_request_error", "invalid_form")
            await JSONResponse(body, 400)(scope, receive, send)
            return
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
            await _exchange(request, form, send)
            group.cancel_scope.cancel()


async def _exchange(request: Request, form: ChatForm, send: Send) -> None:
    stack = AsyncExitStack()
    try:
        opened = await _open(stack, request, form)
        if isinstance(opened, Response):
            await opened(request.scope, request.receive, send)
        else:
            await _relay(opened, send, request.state.settings.gateway_url)
    finally:
        # Shielded: when the browser left, this scope is cancelled, and an unshielded
        # close would be cancelled too, leaving the gateway streaming to nobody.
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(CLOSE_DEADLINE_SECONDS),
            suppress(httpx2.HTTPError, OSError),
        ):
            await stack.aclose()


async def _open(stack: AsyncExitStack, request: Request, form: ChatForm) -> AsyncAPIResponse[Any] | Response:
    """The gateway's streaming response (closed with `stack`), or the error answer for the page."""
    gateway: openai.AsyncOpenAI = request.state.gateway
    try:
        return await stack.enter_async_context(
            gateway.chat.completions.with_streaming_response.create(**form.create_arguments())
        )
    except (openai.APIStatusError, openai.APIConnectionError) as exc:
        return error_response(exc, request.state.settings.gateway_url)


async def _relay(response: AsyncAPIResponse[Any], send: Send, gateway_url: str) -> None:
    """Send the gateway's SSE bytes as they come; a broken connection ends with an error event."""
    headers = {**forwarded_headers(response.headers), **SSE_HEADERS}
    raw_headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
    try:
        async for chunk in response.iter_bytes():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except (httpx2.HTTPError, openai.APIError) as exc:
        await send({"type": "http.response.body", "body": broken_stream_event(exc, gateway_url), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
