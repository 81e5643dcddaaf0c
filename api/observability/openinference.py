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
    """Flattened `llm.input_messages.{i}.message.role/content` (text content only)."""
    attributes: Attributes = {}
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            continue
        attributes[f"{prefix}.{index}.message.role"] = str(message.get("role", ""))
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p)
        if content is not None:
            attributes[f"{prefix}.{index}.message.content"] = str(content)
    return attributes


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
    parts: list[str] = []
    for payload in payloads:
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                parts.append(content)
    return "".join(parts)


def tool_attributes(server: str, tool: str, arguments: Any, include_content: bool) -> Attributes:
    """A TOOL span's attributes: the tool's name and server, its arguments when allowed."""
    attributes: Attributes = {KIND: TOOL, SpanAttributes.TOOL_NAME: tool, "gateway.mcp.server": server}
    if include_content and arguments is not None:
        attributes[SpanAttributes.TOOL_PARAMETERS] = json_text(arguments)
        attributes.update(input_attributes(arguments))
    return attributes
