"""OpenInference span attributes as plain values: what Phoenix needs to render our spans.

Pure functions (no OpenTelemetry objects): each turns a request, a usage object or a
stream into the flat `{attribute: value}` dict a span takes. Content-bearing attributes
(`input.value`, `output.value`, messages, tool arguments) are built only when the caller
says content may be traced (`TRACE_INCLUDE_CONTENT`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from openinference.semconv.trace import OpenInferenceMimeTypeValues, OpenInferenceSpanKindValues, SpanAttributes

from api.upstream.litellm_headers import UpstreamOutcome

Attributes = dict[str, Any]

KIND = SpanAttributes.OPENINFERENCE_SPAN_KIND
USER_ID = SpanAttributes.USER_ID
OUTPUT_VALUE = SpanAttributes.OUTPUT_VALUE
CHAIN = OpenInferenceSpanKindValues.CHAIN.value
AGENT = OpenInferenceSpanKindValues.AGENT.value
LLM = OpenInferenceSpanKindValues.LLM.value
TOOL = OpenInferenceSpanKindValues.TOOL.value
JSON_MIME = OpenInferenceMimeTypeValues.JSON.value
TEXT_MIME = OpenInferenceMimeTypeValues.TEXT.value

#: Request fields that are content (or our own metadata), never invocation parameters.
_NOT_PARAMETERS = frozenset({"messages", "metadata", "tools", "functions"})


def json_text(value: Any) -> str:
    """Compact JSON for an attribute value (OTEL attributes are scalars)."""
    return orjson.dumps(value, default=str).decode()


def input_attributes(value: Any) -> Attributes:
    """`input.value` (+ mime type): strings as text, anything else as JSON."""
    if isinstance(value, str):
        return {SpanAttributes.INPUT_VALUE: value, SpanAttributes.INPUT_MIME_TYPE: TEXT_MIME}
    return {SpanAttributes.INPUT_VALUE: json_text(value), SpanAttributes.INPUT_MIME_TYPE: JSON_MIME}


def output_attributes(value: Any) -> Attributes:
    """`output.value` (+ mime type): strings as text, bytes as the JSON they hold, else JSON."""
    if isinstance(value, str):
        return {SpanAttributes.OUTPUT_VALUE: value, SpanAttributes.OUTPUT_MIME_TYPE: TEXT_MIME}
    if isinstance(value, bytes | bytearray):
        return {
            SpanAttributes.OUTPUT_VALUE: bytes(value).decode(errors="replace"),
            SpanAttributes.OUTPUT_MIME_TYPE: JSON_MIME,
        }
    return {SpanAttributes.OUTPUT_VALUE: json_text(value), SpanAttributes.OUTPUT_MIME_TYPE: JSON_MIME}


def llm_request_attributes(
    request: Mapping[str, Any], metadata: Mapping[str, Any], include_content: bool
) -> Attributes:
    """An LLM span's attributes from the chat request it sends (model, parameters, messages)."""
    attributes: Attributes = {
        KIND: LLM,
        SpanAttributes.LLM_MODEL_NAME: str(request.get("model", "")),
        SpanAttributes.LLM_INVOCATION_PARAMETERS: json_text(
            {k: v for k, v in request.items() if k not in _NOT_PARAMETERS}
        ),
        SpanAttributes.METADATA: json_text(metadata),
    }
    if include_content:
        attributes.update(input_attributes({k: v for k, v in request.items() if k != "metadata"}))
        attributes.update(message_attributes(SpanAttributes.LLM_INPUT_MESSAGES, request.get("messages") or ()))
    return attributes


def message_attributes(prefix: str, messages: Iterable[Any]) -> Attributes:
    """Flattened `{prefix}.{i}.message.role/content/tool_calls...` (text content only): what
    Phoenix's Messages view of an LLM span shows, for `llm.input_messages` / `llm.output_messages`."""
    attributes: Attributes = {}
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            continue
        at = f"{prefix}.{index}.message."
        attributes[at + "role"] = str(message.get("role", ""))
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p)
        if content is not None:
            attributes[at + "content"] = str(content)
        if message.get("tool_call_id"):
            attributes[at + "tool_call_id"] = str(message["tool_call_id"])
        for number, call in enumerate(message.get("tool_calls") or ()):
            if not isinstance(call, Mapping):
                continue
            function = call.get("function") if isinstance(call.get("function"), Mapping) else {}
            call_at = f"{at}tool_calls.{number}.tool_call."
            if call.get("id"):
                attributes[call_at + "id"] = str(call["id"])
            attributes[call_at + "function.name"] = str(function.get("name", ""))
            attributes[call_at + "function.arguments"] = str(function.get("arguments", ""))
    return attributes


def answer_attributes(message: Mapping[str, Any]) -> Attributes:
    """An LLM call's answer: `llm.output_messages` (role, content, tool calls) for Phoenix's
    Messages view, and `output.value` as the text a reader wants, never the raw response body
    (the content; for a tool-call-only answer, the calls as `name(arguments)`)."""
    text = message.get("content")
    if not text:
        calls = [c.get("function") or {} for c in message.get("tool_calls") or () if isinstance(c, Mapping)]
        text = "\n".join(f"{f.get('name', '')}({f.get('arguments', '')})" for f in calls)
    return {
        **message_attributes(SpanAttributes.LLM_OUTPUT_MESSAGES, [{"role": "assistant", **message}]),
        **output_attributes(str(text or "")),
    }


def response_message(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The first choice's message of a `chat.completion` body ({} when it has none)."""
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        message = choices[0].get("message")
        if isinstance(message, Mapping):
            return dict(message)
    return {}


def usage_attributes(usage: Mapping[str, Any] | None) -> Attributes:
    """`llm.token_count.*` from an OpenAI usage object."""
    if not usage:
        return {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT: prompt,
        SpanAttributes.LLM_TOKEN_COUNT_COMPLETION: completion,
        SpanAttributes.LLM_TOKEN_COUNT_TOTAL: int(usage.get("total_tokens") or prompt + completion),
    }


def upstream_attributes(outcome: UpstreamOutcome | None) -> Attributes:
    """What LiteLLM did for the call (contract section 11), beside the OpenInference names."""
    if outcome is None:
        return {}
    attributes: Attributes = {
        "gateway.upstream.attempted_retries": outcome.retries,
        "gateway.upstream.attempted_fallbacks": outcome.fallbacks,
        "gateway.upstream.cache_hit": outcome.cache_hit,
    }
    if outcome.model:
        attributes["gateway.upstream.model"] = outcome.model
    return attributes


def stream_text(payloads: Iterable[bytes]) -> str:
    """The answer text of a chat stream: every chunk's `delta.content`, in order."""
    return str(stream_message(payloads).get("content") or "")


def stream_message(payloads: Iterable[bytes]) -> dict[str, Any]:
    """The assistant message a chat stream adds up to: its text and its tool calls (whose
    names and arguments arrive in pieces, by index), first choice only."""
    parts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for payload in payloads:
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                parts.append(delta["content"])
            for piece in delta.get("tool_calls") or ():
                call = calls.setdefault(int(piece.get("index", 0)), {"function": {"name": "", "arguments": ""}})
                if piece.get("id"):
                    call["id"] = piece["id"]
                function = piece.get("function") or {}
                call["function"]["name"] += function.get("name") or ""
                call["function"]["arguments"] += function.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(parts)}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return message


def tool_attributes(server: str, tool: str, arguments: Any, include_content: bool) -> Attributes:
    """A TOOL span's attributes: the tool's name and server, its arguments when allowed."""
    attributes: Attributes = {KIND: TOOL, SpanAttributes.TOOL_NAME: tool, "gateway.mcp.server": server}
    if include_content and arguments is not None:
        attributes[SpanAttributes.TOOL_PARAMETERS] = json_text(arguments)
        attributes.update(input_attributes(arguments))
    return attributes
