"""The OpenAI Chat Completions wire protocol as the gateway sees it.

The request model validates only what the gateway itself relies on (model, messages,
stream flags, the fields the router reads) and keeps every other field as-is
(`extra="allow"`): passthrough forwards the client's JSON object, never a re-serialised
model, so fields this module has never heard of reach the upstream unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator

from api.errors import InvalidRequestError

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]

DONE_FRAME = b"data: [DONE]\n\n"


class ChatMessage(BaseModel):
    """One message; content is a string, a list of parts (text, image_url, ...) or null.

    As the OpenAI API has it: only an assistant message that calls tools (or a function) may
    leave its content out. Checked here so the client gets a 400 naming the message, not the
    upstream's 500 (LiteLLM fails a user message without content with a KeyError).
    """

    model_config = ConfigDict(extra="allow")

    role: Role
    content: str | list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _content_required(self) -> ChatMessage:
        if self.content is not None:
            return self
        extra = self.model_extra or {}
        if self.role == "assistant" and (extra.get("tool_calls") or extra.get("function_call")):
            return self
        raise ValueError(f"a {self.role} message needs content (only an assistant's tool call may go without)")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool | None = None  # "yes" or 1 is a 400, as `stream` is


class ChatCompletionRequest(BaseModel):
    """The validated view of a `/v1/chat/completions` body."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    # Strict: `"yes"`, `"true"` or `1` are a 400, not a stream (lax pydantic would coerce them, and
    # the upstream, seeing the raw value, would then fail the stream after its 200).
    stream: StrictBool | None = False
    stream_options: StreamOptions | None = None
    tools: list[dict[str, Any]] | None = None
    functions: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None

    @property
    def wants_usage(self) -> bool:
        """Whether a streaming client asked for the final usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionChoice(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(BaseModel):
    """A non-streaming answer, for the OpenAPI schema only: answers are forwarded, never re-validated."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatCompletionChoice]
    usage: dict[str, Any] | None = None


class ChatCompletionChunk(BaseModel):
    """One streamed event's JSON, for the OpenAPI schema only (chunks are relayed, never re-validated)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[dict[str, Any]]  # empty in the final usage chunk


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """The one error shape (`errors.GatewayError.payload`), for the OpenAPI schema."""

    error: ErrorDetail


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object, or raise a 400."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_json")
    return data


def validate_chat_request(body: dict[str, Any]) -> ChatCompletionRequest:
    """Validate a chat body; the first problem becomes a 400 naming the offending field."""
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        raise invalid_request_from(exc.errors(include_url=False)) from exc


def invalid_request_from(errors: Sequence[Mapping[str, Any]]) -> InvalidRequestError:
    """Translate a pydantic/FastAPI error list into one OpenAI-style 400 (first error, with `param`)."""
    first = errors[0]
    param = format_loc(first.get("loc", ()))
    message = str(first.get("msg")).removeprefix("Value error, ")  # pydantic's prefix for our own checks
    return InvalidRequestError(f"Invalid value for '{param}': {message}", code="invalid_value", param=param)


def format_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("messages", 0, "role")` → `messages[0].role`; FastAPI's leading "body"/"query"/"path" is dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def sse_frame(payload: bytes) -> bytes:
    """One Server-Sent Event carrying a JSON payload."""
    return b"data: " + payload + b"\n\n"


async def sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data:` payloads of a Server-Sent Events byte stream, one per event line.

    Comments, `event:`/`id:` lines and blank separators are skipped; multi-line data
    fields (which OpenAI-compatible servers do not send) would arrive line by line.
    """
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if buffer.startswith(b"data:"):
        yield buffer[5:].strip()
