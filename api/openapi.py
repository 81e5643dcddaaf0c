"""What `/openapi.json` says about `POST /v1/chat/completions`, as plain values.

The chat handler reads its body itself (orjson, under `MAX_REQUEST_BYTES`) instead of
declaring a pydantic body parameter, so FastAPI cannot describe it from the signature.
These values fill that in (the request schema, the answers, the error shape), so the
docs and schema-driven clients and fuzzers see the route as it is, without the handler
validating anything twice.
"""

from __future__ import annotations

from typing import Any

from api.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ErrorBody
from api.routing.decision import ROUTING_MODES

_ERRORS: dict[int | str, str] = {
    400: "Malformed JSON, a schema violation (`param` names the field) or a bad header.",
    401: "Missing or wrong bearer token (`invalid_api_key`).",
    404: "Unknown model, as the upstream says (`model_not_found`).",
    413: "The body is larger than `MAX_REQUEST_BYTES` (`request_too_large`).",
    429: "A client limit (`rate_limit_exceeded`) or budget (`insufficient_quota` / `budget_exceeded`), "
    "or the upstream's rate limit; `Retry-After` says when to try again.",
    500: "An internal error; the request id identifies it in the logs.",
    501: "Orchestration is not implemented (`orchestration_not_implemented`).",
    502: "The upstream is unreachable, failed, or refuses the gateway's key.",
    503: "The gateway cannot serve now.",
    504: "The upstream timed out.",
    "4XX": "Another OpenAI-shaped upstream 4xx, passed through with its status.",
}

_HEADERS_IN = {
    "X-Routing-Mode": ("The path to take (case-insensitive).", {"type": "string", "enum": list(ROUTING_MODES)}),
    "X-Session-ID": ("Groups requests into a trace session; kept when a sane token.", {"type": "string"}),
    "X-Client-Request-Id": (
        "Your own id for the request; kept as `client_request_id` when a sane token (≤ 128 of [A-Za-z0-9._:-]).",
        {"type": "string"},
    ),
}

_HEADERS_OUT = {
    "X-Request-Id": ("The gateway's id of this request (its audit row, its log lines).", True),
    "X-Routing-Path": ("The path the request took.", False),
    "X-Routing-Reason": ("Why (a routing reason code).", False),
    "X-Routing-Model": ("The model the gateway asked the upstream for (a routing policy may have chosen it).", False),
    "X-Routing-Policy": ("The routing policy rule that chose the model or refused the request, when one did.", False),
    "X-Trace-Id": ("The trace id, when tracing is on.", False),
    **{
        f"x-ratelimit-{part}-{kind}": (f"The client's {kind}-per-minute {part}, when it has that limit.", False)
        for kind in ("requests", "tokens")
        for part in ("limit", "remaining", "reset")
    },
}


_HELLO = [{"role": "user", "content": "Hello!"}]
_EXAMPLES = {
    "completion": {"summary": "One chat.completion", "value": {"model": "gpt-4o-mini", "messages": _HELLO}},
    "stream": {"summary": "Server-Sent Events", "value": {"model": "gpt-4o-mini", "messages": _HELLO, "stream": True}},
    "reasoning": {
        "summary": "The reasoning agent, chosen by the model name",
        "value": {"model": "reasoning/gpt-4o-mini", "messages": _HELLO, "stream": True},
    },
}


def inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` references replaced by their definitions.

    `openapi_extra` is merged into the operation as-is, where `#/$defs/...` would point
    nowhere; the request models are small and not recursive, so inlining is enough.
    """
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def chat_openapi_extra() -> dict[str, Any]:
    """The operation's request body (every other field allowed) and the headers it reads."""
    schema = inline_defs(ChatCompletionRequest.model_json_schema())
    return {
        "requestBody": {
            "required": True,
            "description": "An OpenAI Chat Completions request. Only `model`, `messages` and `stream` are "
            "validated; every other field is accepted and forwarded on passthrough.",
            "content": {"application/json": {"schema": schema, "examples": _EXAMPLES}},
        },
        "parameters": [
            {"name": name, "in": "header", "required": False, "description": text, "schema": value_schema}
            for name, (text, value_schema) in _HEADERS_IN.items()
        ],
    }


def _event_schema() -> dict[str, Any]:
    """One Server-Sent Event (OpenAPI before 3.2: `schema` describes each event of the stream)."""
    payload = {
        "anyOf": [
            inline_defs(ChatCompletionChunk.model_json_schema()),
            inline_defs(ErrorBody.model_json_schema()),
        ]
    }
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "description": "A `chat.completion.chunk` or an `error` object as JSON; the last event is `[DONE]`.",
                "anyOf": [
                    {"const": "[DONE]"},
                    {"type": "string", "contentMediaType": "application/json", "contentSchema": payload},
                ],
            }
        },
    }


def chat_responses() -> dict[int | str, dict[str, Any]]:
    """The answers: a `chat.completion` or an event stream, and the error shape for each error status."""
    ok = {
        "model": ChatCompletion,
        "description": "A `chat.completion` (JSON); with `stream: true`, Server-Sent Events of "
        "`chat.completion.chunk`s ending with `data: [DONE]` (a failure mid-stream is a final "
        '`data: {"error": ...}` event).',
        "content": {"text/event-stream": {"schema": _event_schema()}},
        "headers": {
            name: {"description": text, "required": required, "schema": {"type": "string"}}
            for name, (text, required) in _HEADERS_OUT.items()
        },
    }
    errors = {status: {"model": ErrorBody, "description": text} for status, text in _ERRORS.items()}
    return {200: ok, **errors}
