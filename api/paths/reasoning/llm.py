"""The agent's LLM calls, through the shared client: each one an LLM span (component
`reasoning-agent`, `traceparent` to the upstream), usage, cost and upstream time recorded,
failures translated into `GatewayError`s at this boundary. A step (non-streamed) has the
whole-answer deadline; the answer stream the per-chunk read timeout, and a break after it
started is `upstream_stream_error`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI

from api.errors import UpstreamError
from api.observability.tracing import Tracing
from api.paths.base import ChatCall
from api.paths.reasoning.conversation import Message
from api.shielded import close_shielded
from api.upstream.cost import call_cost
from api.upstream.deadline import AnswerDeadline
from api.upstream.errors import translate_exception, translate_stream_exception
from api.upstream.litellm_headers import note_litellm

COMPONENT = "reasoning-agent"
_FAILURES = (openai.APIError, httpx2.HTTPError)


class AgentLLM:
    def __init__(
        self,
        llm: AsyncOpenAI,
        tracing: Tracing,
        deadline: AnswerDeadline,
        component: str = COMPONENT,
        *,
        answers_request: bool = True,
    ) -> None:
        self.llm = llm
        self.tracing = tracing
        self.deadline = deadline
        self.component = component  # `metadata.component` of every call (the orchestrator has its own)
        # The streamed answer is the request's own (the request span's output); not so for
        # an orchestration task's answer, which only feeds the orchestrator's.
        self.answers_request = answers_request

    async def complete(self, call: ChatCall, messages: list[Message], params: dict[str, Any], name: str) -> str:
        """A non-streamed call; returns the reply text."""
        request = {"model": call.body["model"], "messages": messages, **params}
        with self.tracing.llm_span(self.component, request, name) as span:
            started = time.perf_counter()
            try:
                with self.deadline.bound():
                    # The raw response for its headers: LiteLLM's cost is one of them.
                    raw = await self.llm.chat.completions.with_raw_response.create(
                        **request, extra_headers=span.headers, extra_body=span.extra_body, timeout=self.deadline.timeout
                    )
                    response = raw.parse()
            except _FAILURES as exc:
                raise translate_exception(exc) from exc
            else:
                note_litellm(raw.headers, call.record, span, forward=False)
            finally:
                call.record.add_upstream_time(started)
            usage = response.usage.model_dump() if response.usage is not None else None
            call.record.add_usage(usage)
            call.record.add_cost(call_cost(raw.headers, usage, response.model or request["model"]))
            reply = response.choices[0].message.content or ""
            span.set_result(usage=usage, output=reply)
        return reply

    async def stream(
        self, call: ChatCall, messages: list[Message], params: dict[str, Any], name: str
    ) -> AsyncIterator[tuple[str, str | None]]:
        """A streamed call, the request's answer; yields (text, finish_reason) as it arrives."""
        request = {"model": call.body["model"], "messages": messages, **params}
        with self.tracing.llm_span(
            self.component, {**request, "stream": True}, name, answers_request=self.answers_request
        ) as span:
            started = time.perf_counter()
            answer: list[str] = []
            usage_seen = False
            try:
                try:
                    raw = await self.llm.chat.completions.with_raw_response.create(
                        **request,
                        stream=True,
                        stream_options={"include_usage": True},
                        extra_headers=span.headers,
                        extra_body=span.extra_body,
                    )
                    stream = raw.parse()
                except _FAILURES as exc:
                    raise translate_exception(exc) from exc
                note_litellm(raw.headers, call.record, span, forward=False)
                finished = False
                try:
                    async for chunk in stream:
                        if chunk.usage is not None:
                            usage_seen = True
                            usage = chunk.usage.model_dump()
                            call.record.add_usage(usage)
                            call.record.add_cost(call_cost(raw.headers, usage, chunk.model or request["model"]))
                            span.set_result(usage=usage)
                        for choice in chunk.choices:
                            finished = finished or choice.finish_reason is not None
                            if choice.delta.content or choice.finish_reason:
                                answer.append(choice.delta.content or "")
                                yield choice.delta.content or "", choice.finish_reason
                    if not finished:
                        # The SDK ends quietly when the body ends, [DONE] or not: an answer
                        # cut short must not reach the client as if it were whole.
                        raise UpstreamError(
                            "The upstream stream ended before its answer finished (no finish_reason).",
                            code="upstream_stream_error",
                        )
                except _FAILURES as exc:
                    raise translate_stream_exception(exc) from exc
                finally:
                    await close_shielded(stream.close)
                    if not usage_seen:  # broken off: what it cost is unknown
                        call.record.add_cost(None)
            finally:
                call.record.add_upstream_time(started)
            span.set_result(output="".join(answer))
