"""Auto routing: one LLM call with structured output picks the path (contract section 2).

The classifier sees the conversation (not just the last message), answers through the
SDK's `parse` with a pydantic schema whose `path` may only be one of
`AUTO_ROUTING_TARGETS`, at temperature 0 and under a short timeout. Decisions are kept by a
hash of their input (api/routing/decision_cache.py, shared by the replicas through Redis), so
identical conversations get identical decisions from one classification. Any failure
(error, timeout, refusal, invalid answer) falls back to passthrough with `auto_fallback`:
auto routing never fails a request.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx2
import openai
import structlog
from openai import AsyncOpenAI
from pydantic import BaseModel, ValidationError, create_model

from api.hashing import canonical_sha256
from api.observability.tracing import Tracing
from api.prompts import render
from api.request_record import RequestRecord
from api.routing.decision import RoutePath, RoutingDecision
from api.routing.decision_cache import DecisionCache
from api.upstream.cost import call_cost

log = structlog.get_logger(__name__)

COMPONENT = "routing-classifier"
TRANSCRIPT_CHARS = 12_000  # the classifier needs the gist of the conversation, not all of it


def decision_key(messages: list[Any], targets: list[str], model: str) -> str:
    """The cache key of a classification: everything the decision depends on."""
    return canonical_sha256({"messages": messages, "targets": targets, "model": model})


def transcript(messages: list[dict[str, Any]]) -> str:
    """The conversation as `role: text` lines (images noted, not sent), newest kept when long."""
    lines = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(
                part.get("text", "") if part.get("type") == "text" else f"[{part.get('type', 'part')}]"
                for part in content
                if isinstance(part, dict)
            )
        lines.append(f"{message.get('role', 'user')}: {content or ''}")
    text = "\n".join(lines)
    return text if len(text) <= TRANSCRIPT_CHARS else "…" + text[-TRANSCRIPT_CHARS:]


def choice_model(targets: list[str]) -> type[BaseModel]:
    """The structured answer: a `path` limited to the configured targets, and a short reason."""
    return create_model("RoutingChoice", path=(Literal[tuple(targets)], ...), reason=(str, ...))  # type: ignore[call-overload]


class LLMClassifier:
    def __init__(
        self,
        llm: AsyncOpenAI,
        tracing: Tracing,
        *,
        model: str,
        targets: list[str],
        timeout: float,
        decisions: DecisionCache,
    ) -> None:
        # No SDK retries: a slow or failing classifier must fall back quickly.
        self.llm = llm.with_options(max_retries=0, timeout=timeout)
        self.tracing = tracing
        self.model = model
        self.targets = targets
        self.schema = choice_model(targets)
        self.decisions = decisions

    async def classify(self, body: dict[str, Any], upstream_model: str, record: RequestRecord) -> RoutingDecision:
        messages = body.get("messages") or []
        model = record.policy_model or self.model  # the routing policy's model, when it chose one
        key = decision_key(messages, self.targets, model)
        path = await self.decisions.decide(key, lambda: self._ask(messages, model, record))
        if path is None:
            return RoutingDecision(RoutePath.PASSTHROUGH, "auto_fallback", upstream_model)
        return RoutingDecision(path, f"auto_{path.value}", upstream_model)

    async def _ask(self, messages: list[dict[str, Any]], model: str, record: RequestRecord) -> RoutePath | None:
        request = {
            "model": model,
            "messages": [
                {"role": "system", "content": render("routing_classifier", targets=", ".join(self.targets))},
                {"role": "user", "content": transcript(messages)},
            ],
            "temperature": 0,
        }
        with self.tracing.llm_span(COMPONENT, request, "routing classifier") as span:
            started = time.perf_counter()
            try:
                raw = await self.llm.chat.completions.with_raw_response.parse(
                    **request, response_format=self.schema, extra_headers=span.headers, extra_body=span.extra_body
                )
                completion = raw.parse()
            except (openai.OpenAIError, httpx2.HTTPError, ValidationError) as exc:
                # A fallback, not a failure of the request: the span says why, the request goes on.
                span.span.set_attribute("gateway.routing.fallback", f"{type(exc).__name__}: {exc}")
                log.warning("auto_routing_fallback", request_id=record.request_id, error=f"{type(exc).__name__}: {exc}")
                return None
            finally:
                record.add_upstream_time(started)
            usage = completion.usage.model_dump() if completion.usage is not None else None
            record.add_usage(usage)
            record.add_cost(call_cost(raw.headers, usage, completion.model or model))
            parsed = completion.choices[0].message.parsed
            reply = completion.choices[0].message
            span.set_result(usage=usage, output=reply.content or reply.refusal or "")
        if parsed is None:  # a refusal
            log.warning("auto_routing_fallback", request_id=record.request_id, error="no parsed answer")
            return None
        return RoutePath(parsed.path)  # type: ignore[attr-defined]
