"""Passthrough: the client's request, every field of it, to the upstream and back.

Bytes are forwarded, not re-modelled: the body goes up as the client's JSON object
(only `model` rewritten when a virtual prefix was stripped, and `metadata.component`
added for LiteLLM, which consumes `metadata` itself), and the upstream's answer
or stream chunks come back as they are. The one change on streams: we always ask the
upstream for the final usage chunk (the audit row and token metrics need it) and drop
it again when the client did not ask for it. Each call is priced (api/upstream/cost.py)
from the answer's headers and usage; a stream that ends without usage has an unknown cost.
Each upstream call is an LLM span; its `traceparent` and `metadata.component` go up with
the request (api/observability/tracing.py).

A non-streamed call is bounded by its whole-answer deadline (LLM_TOTAL_TIMEOUT_SECONDS); a
stream by the per-chunk read timeout, and a stream that breaks after it started ends with
an `upstream_stream_error` event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import httpx2
import openai
import orjson
from openai import AsyncOpenAI

from api.errors import UpstreamError
from api.observability.openinference import response_message
from api.observability.tracing import LlmCall, Tracing
from api.paths.base import ChatCall, JsonResult, PathResult, StreamResult
from api.protocol import sse_data
from api.request_record import RequestRecord
from api.shielded import close_shielded
from api.upstream.cache_policy import with_cache_opt_in
from api.upstream.cost import call_cost
from api.upstream.deadline import AnswerDeadline
from api.upstream.errors import from_error_event, translate_exception, translate_stream_exception
from api.upstream.litellm_headers import note_litellm

CHAT_COMPLETIONS = "/chat/completions"
COMPONENT = "passthrough"  # metadata.component: how LiteLLM's and Phoenix's views tell callers apart
_JSON_HEADERS = {"Content-Type": "application/json"}
_UPSTREAM_FAILURES = (openai.APIError, httpx2.HTTPError)


class PassthroughPath:
    def __init__(
        self, llm: AsyncOpenAI, tracing: Tracing, deadline: AnswerDeadline, *, cache_deterministic: bool = False
    ) -> None:
        self.llm = llm
        self.tracing = tracing
        self.deadline = deadline
        self.cache_deterministic = cache_deterministic

    async def run(self, call: ChatCall) -> PathResult:
        if self.cache_deterministic:
            call = replace(call, body=with_cache_opt_in(call.body))
        if call.request.stream:
            return await self._open_stream(call)
        with self.tracing.llm_span(COMPONENT, call.body, COMPONENT, answers_request=True) as llm_call:
            started = time.perf_counter()
            try:
                with self.deadline.bound():
                    response = await self._post(llm_call, limits=self.deadline.timeout)
            finally:
                call.record.add_upstream_time(started)
            note_litellm(response.headers, call.record, llm_call, forward=True)
            content = response.content
            answer = _json_of(content)
            usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else None
            call.record.add_usage(usage)
            call.record.add_cost(call_cost(response.headers, usage, answer.get("model") or call.body.get("model")))
            llm_call.set_result(usage=usage, output=response_message(answer) or None)
        return JsonResult(content)

    async def _open_stream(self, call: ChatCall) -> StreamResult:
        body = call.body
        wants_usage = call.request.wants_usage
        if not wants_usage:
            body = {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
        llm_call = self.tracing.start_llm_call(COMPONENT, body, COMPONENT, answers_request=True)
        started = time.perf_counter()
        try:
            response = await self._post(llm_call, stream=True)
        except BaseException as exc:
            call.record.add_upstream_time(started)
            llm_call.end(exc)
            raise
        note_litellm(response.headers, call.record, llm_call, forward=True)
        return StreamResult(self._relay(response, call.record, wants_usage, started, llm_call))

    async def _post(
        self, llm_call: LlmCall, stream: bool = False, limits: httpx2.Timeout | None = None
    ) -> httpx2.Response:
        """POST the call's body (with `metadata.component`) and `traceparent` to the upstream."""
        options: dict[str, Any] = {"headers": {**_JSON_HEADERS, **llm_call.headers}}
        if limits is not None:
            options["timeout"] = limits
        try:
            return await self.llm.post(
                CHAT_COMPLETIONS,
                cast_to=httpx2.Response,
                content=orjson.dumps(llm_call.body),
                options=options,
                stream=stream,
            )
        except _UPSTREAM_FAILURES as exc:
            raise translate_exception(exc) from exc

    async def _relay(
        self, response: httpx2.Response, record: RequestRecord, wants_usage: bool, started: float, llm_call: LlmCall
    ) -> AsyncIterator[bytes]:
        failure: BaseException | None = None
        usage_seen = False
        try:
            async for payload in sse_data(response.aiter_bytes()):
                if payload == b"[DONE]":
                    return
                if payload.startswith(b'{"error"'):
                    raise from_error_event(orjson.loads(payload))
                llm_call.add_chunk(payload)
                usage_seen = usage_seen or _has_usage(payload)
                forwarded = _account_usage(payload, record, wants_usage, llm_call, response.headers)
                if forwarded is not None:
                    yield forwarded
            raise UpstreamError("The upstream stream ended without [DONE].", code="upstream_stream_error")
        except _UPSTREAM_FAILURES as exc:
            failure = translate_stream_exception(exc)
            raise failure from exc
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if not usage_seen:  # broken off, or an upstream that ignores include_usage
                record.add_cost(None)
            record.add_upstream_time(started)
            llm_call.end(failure)
            await close_shielded(response.aclose)


def _json_of(content: bytes) -> dict[str, Any]:
    """The answer's JSON object ({} for anything else: it is forwarded as it is all the same)."""
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _has_usage(payload: bytes) -> bool:
    """Whether a chunk carries usage (a byte test: most chunks are forwarded unparsed)."""
    return b'"usage"' in payload and b'"usage":null' not in payload and b'"usage": null' not in payload


def _account_usage(
    payload: bytes,
    record: RequestRecord,
    wants_usage: bool,
    llm_call: LlmCall | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes | None:
    """Record a chunk's usage and the call's cost; return what to forward (None drops an
    unrequested usage chunk)."""
    if not _has_usage(payload):
        return payload
    chunk = orjson.loads(payload)
    usage = chunk.get("usage")
    if not usage:
        return payload
    record.add_usage(usage)
    record.add_cost(call_cost(headers, usage, chunk.get("model") or record.model))
    if llm_call is not None:
        llm_call.set_result(usage=usage)
    if wants_usage:
        return payload
    # Some upstreams (LiteLLM) put usage on a chunk with an empty delta: drop it whole;
    # if it also carries content, forward the content without the usage.
    if not any(choice.get("delta") for choice in chunk.get("choices") or ()):
        return None
    del chunk["usage"]
    return orjson.dumps(chunk)
