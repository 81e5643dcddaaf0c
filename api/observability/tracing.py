"""Tracing: OpenTelemetry spans with OpenInference attributes, exported to Phoenix.

One `Tracing` lives on the ServiceContainer. It is configured from `Settings` and
`start()`ed by the lifespan: with no endpoint (`PHOENIX_COLLECTOR_ENDPOINT` /
`OTEL_EXPORTER_OTLP_ENDPOINT`) there is no provider, no exporter thread and no server
middleware, and every helper below returns at once (an LLM call still gets its
`metadata.component`, which LiteLLM uses on its own). With an endpoint, spans go through
a BatchSpanProcessor on its own thread, so a dead collector never slows a request.

The tracer provider is the container's, never OpenTelemetry's global one: two apps in
one process (the tests) do not share spans. Propagation uses the global W3C propagator,
which only reads the current context.

How a path opens its spans (the server span is already current):

    with tracing.span("reasoning", AGENT):              # CHAIN / AGENT spans nest
        with tracing.llm_span("reasoning-agent", request) as llm:
            await client.chat.completions.create(**request, extra_headers=llm.headers,
                                                 extra_body=llm.extra_body)
            llm.set_result(usage=..., output=...)
        with tracing.tool_span(server, tool, arguments) as span:
            ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import anyio
import structlog
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from api.config import Settings
from api.observability.export import ExportState, MonitoredExporter
from api.observability.export_process import ChildConfig, ProcessSpanExporter
from api.observability.openinference import (
    AGENT,
    CHAIN,
    KIND,
    OUTPUT_VALUE,
    TOOL,
    answer_attributes,
    input_attributes,
    llm_request_attributes,
    output_attributes,
    stream_message,
    tool_attributes,
    upstream_attributes,
    usage_attributes,
)
from api.observability.otlp import EXPORT_TIMEOUT_SECONDS, otlp_exporter
from api.upstream.litellm_headers import UpstreamOutcome

__all__ = ["AGENT", "CHAIN", "TOOL", "LlmCall", "Tracing", "outcome_of"]

log = structlog.get_logger("api.llm")

SERVICE_NAME = "reasoning-agent-api"
#: The session id of the current request (from `X-Session-ID`), set by the server span.
SESSION_KEY = context.create_key("gateway.session_id")
#: The request's SERVER span, set by the server span: the answer becomes its output.
REQUEST_SPAN_KEY = context.create_key("gateway.request_span")
OUTCOME = "gateway.outcome"
COMPONENT = "gateway.component"
SESSION_ID = "session.id"
#: Events and links per span (and attributes on each): the SDK's defaults, stated so that
#: no OTEL_* variable changes them behind Settings' back.
SPAN_EVENTS_LIMIT = 128


def span_limits(settings: Settings) -> SpanLimits:
    """Bounds on what one span holds, so a huge prompt or tool result cannot bloat the
    export queue: every limit given explicitly (SpanLimits reads OTEL_* variables otherwise)."""
    return SpanLimits(
        max_attributes=settings.trace_max_attributes,
        max_span_attributes=settings.trace_max_attributes,
        max_attribute_length=settings.trace_max_attribute_chars,
        max_span_attribute_length=settings.trace_max_attribute_chars,
        max_events=SPAN_EVENTS_LIMIT,
        max_links=SPAN_EVENTS_LIMIT,
        max_event_attributes=SPAN_EVENTS_LIMIT,
        max_link_attributes=SPAN_EVENTS_LIMIT,
    )


def outcome_of(exc: BaseException | None) -> str:
    """`ok`, `cancelled` (client gone: cancellation, or the stream closed early) or `error`."""
    if exc is None:
        return "ok"
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    return "error"


def end_span(span: Span, exc: BaseException | None) -> None:
    """Finish a span by outcome: OK, ERROR with the exception event, or marked cancelled.

    A cancellation is the client leaving, not our failure: the status stays UNSET (as
    for a 4xx) and the span says `gateway.outcome=cancelled` with a `cancelled` event.
    """
    outcome = outcome_of(exc)
    span.set_attribute(OUTCOME, outcome)
    if outcome == "ok":
        span.set_status(Status(StatusCode.OK))
    elif outcome == "cancelled":
        span.add_event("cancelled", {"reason": "client disconnected"})
    elif exc is not None:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.end()


class LlmCall:
    """One call to the upstream LLM: its span, the headers and body metadata to send.

    `headers` carries `traceparent` naming this call's span as the parent, so LiteLLM's
    spans nest under it; `body` / `extra_body` carry `metadata.component`. A call whose
    answer is the request's (`answers_request`) also gives it to the request span as output.
    """

    def __init__(
        self,
        tracing: Tracing,
        span: Span,
        request: Mapping[str, Any],
        metadata: dict[str, Any],
        answers_request: bool = False,
    ) -> None:
        self._tracing = tracing
        self.span = span
        self._request_span = _request_span() if answers_request else None
        self.metadata = metadata
        self.body = {**request, "metadata": metadata}
        self.headers: dict[str, str] = {}
        self._chunks: list[bytes] | None = None
        self._ended = False
        if span.is_recording():
            propagate.inject(self.headers, context=trace.set_span_in_context(span))
            if tracing.include_content and request.get("stream"):
                self._chunks = []

    @property
    def extra_body(self) -> dict[str, Any]:
        """For SDK calls: `create(..., extra_body=llm.extra_body, extra_headers=llm.headers)`."""
        return {"metadata": self.metadata}

    def add_chunk(self, payload: bytes) -> None:
        """A stream chunk's JSON; kept (to show the answer on the span) only when content is traced."""
        if self._chunks is not None:
            self._chunks.append(payload)

    def set_result(
        self, *, usage: Mapping[str, Any] | None = None, output: str | Mapping[str, Any] | None = None
    ) -> None:
        """Token counts (always) and the answer (only when content is traced) of this call:
        `output` is the reply text or the reply message (role, content, tool calls)."""
        if not self.span.is_recording():
            return
        attributes = usage_attributes(usage)
        if output is not None and self._tracing.include_content:
            message = {"content": output} if isinstance(output, str) else output
            attributes.update(self._answer(message))
        if attributes:
            self.span.set_attributes(attributes)

    def _answer(self, message: Mapping[str, Any]) -> dict[str, Any]:
        attributes = answer_attributes(message)
        if self._request_span is not None and self._request_span.is_recording():
            self._request_span.set_attributes(output_attributes(attributes[OUTPUT_VALUE]))
        return attributes

    def set_upstream(self, outcome: UpstreamOutcome | None) -> None:
        """What LiteLLM reported doing for this call: the model that answered, retries, fallbacks, cache."""
        if outcome is not None and self.span.is_recording():
            self.span.set_attributes(upstream_attributes(outcome))

    def end(self, exc: BaseException | None = None) -> None:
        """End the span once: ok, failed with `exc`, or cancelled. Later calls do nothing."""
        if self._ended:
            return
        self._ended = True
        if not self.span.is_recording():
            return
        if self._chunks:
            self.span.set_attributes(self._answer(stream_message(self._chunks)))
        end_span(self.span, exc)


class Tracing:
    """The app's tracer (or none), with helpers that open OpenInference spans."""

    def __init__(self, settings: Settings, exporter: SpanExporter | None = None) -> None:
        self.endpoint = settings.tracing_endpoint
        self.project = settings.phoenix_project_name
        self.include_content = settings.trace_include_content
        self.log_prompts = settings.log_prompts
        self._api_key = settings.phoenix_api_key.get_secret_value() if settings.phoenix_api_key else None
        self._exporter = exporter
        self._export_process = settings.trace_export_process
        self._log_level, self._log_format = settings.log_level, settings.log_format
        self._limits = span_limits(settings)
        self._provider: TracerProvider | None = None
        self._monitored: MonitoredExporter | None = None
        self.tracer: trace.Tracer | None = None

    @property
    def configured(self) -> bool:
        """True when spans have somewhere to go (an endpoint, or an exporter given by a test)."""
        return self._exporter is not None or self.endpoint is not None

    @property
    def export_state(self) -> ExportState | None:
        return self._monitored.state if self._monitored is not None else None

    def start(self) -> None:
        """Create the provider and its batch exporter thread (no-op when not configured)."""
        if not self.configured or self._provider is not None:
            return
        resource = Resource.create({"service.name": SERVICE_NAME, "openinference.project.name": self.project})
        self._monitored = MonitoredExporter(self._exporter or self._otlp_exporter(resource))
        self._provider = TracerProvider(resource=resource, span_limits=self._limits)
        self._provider.add_span_processor(BatchSpanProcessor(self._monitored))
        self.tracer = self._provider.get_tracer("api")

    def _otlp_exporter(self, resource: Resource) -> SpanExporter:
        """OTLP to the endpoint: from a child process (the default), or this process's batch thread."""
        if not self._export_process:
            return otlp_exporter(str(self.endpoint), self._api_key)
        exporter = ProcessSpanExporter(
            ChildConfig(
                str(self.endpoint),
                self._api_key,
                dict(resource.attributes),
                resource.schema_url,
                log_level=self._log_level,
                log_format=self._log_format,
            )
        )
        exporter.start()
        return exporter

    def force_flush(self) -> bool:
        return self._provider.force_flush() if self._provider is not None else True

    async def shutdown(self) -> None:
        """Flush what is queued, off the event loop; a dead collector cannot hold shutdown
        past one export timeout (the SDK alone would wait up to 30 s)."""
        provider, self._provider, self.tracer = self._provider, None, None
        if provider is not None:
            with anyio.move_on_after(EXPORT_TIMEOUT_SECONDS + 1):
                await anyio.to_thread.run_sync(provider.shutdown, abandon_on_cancel=True)

    # ---- spans for paths ------------------------------------------------------------

    def start_llm_call(
        self, component: str, request: Mapping[str, Any], name: str = "llm", *, answers_request: bool = False
    ) -> LlmCall:
        """Open an LLM span for one upstream call; the caller must `end()` it.

        `request` is the chat request as it will be sent; `LlmCall.body` is the same with
        `metadata.component` (and the session id) merged into the caller's metadata.
        `answers_request`: this call's answer is the request's, the request span's output.
        """
        session_id = context.get_value(SESSION_KEY)
        metadata = {**_dict(request.get("metadata")), "component": component}
        if session_id:
            metadata["session_id"] = session_id
        if self.log_prompts:
            log.info("llm_prompt", component=component, model=request.get("model"), messages=request.get("messages"))
        if self.tracer is None:
            return LlmCall(self, trace.INVALID_SPAN, request, metadata)
        attributes = llm_request_attributes(request, metadata, self.include_content)
        attributes[COMPONENT] = component
        if session_id:
            attributes[SESSION_ID] = session_id
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        return LlmCall(self, span, request, metadata, answers_request)

    @contextmanager
    def llm_span(
        self, component: str, request: Mapping[str, Any], name: str = "llm", *, answers_request: bool = False
    ) -> Iterator[LlmCall]:
        """`start_llm_call` as a context manager: ended on exit, failed or cancelled by exceptions."""
        call = self.start_llm_call(component, request, name, answers_request=answers_request)
        try:
            yield call
        except BaseException as exc:
            call.end(exc)
            raise
        call.end()

    @contextmanager
    def span(self, name: str, kind: str = CHAIN, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
        """A CHAIN / AGENT / TOOL span, current for its body (spans opened inside nest under it)."""
        if self.tracer is None:
            yield trace.INVALID_SPAN
            return
        session_id = context.get_value(SESSION_KEY)
        span = self.tracer.start_span(name, attributes={KIND: kind, **(attributes or {})})
        if session_id:
            span.set_attribute(SESSION_ID, str(session_id))
        token = context.attach(trace.set_span_in_context(span))
        try:
            yield span
        except BaseException as exc:
            end_span(span, exc)
            raise
        finally:
            context.detach(token)
        end_span(span, None)

    @contextmanager
    def tool_span(self, server: str, tool: str, arguments: Any = None) -> Iterator[Span]:
        """A TOOL span for one MCP tool call (arguments only when content is traced)."""
        with self.span(f"tool {tool}", TOOL, tool_attributes(server, tool, arguments, self.include_content)) as span:
            yield span

    def set_input(self, span: Span, value: Any) -> None:
        """`input.value` on a span, when content may be traced."""
        if self.include_content and span.is_recording():
            span.set_attributes(input_attributes(value))

    def set_output(self, span: Span, value: Any) -> None:
        """`output.value` on a span, when content may be traced."""
        if span.is_recording() and (attributes := self.output_attributes(value)):
            span.set_attributes(attributes)

    def output_attributes(self, value: Any) -> dict[str, Any]:
        """`output.value` as attributes to merge into another `set_attributes` call (one
        call validates once); empty when content may not be traced."""
        return output_attributes(value) if self.include_content else {}


def _request_span() -> Span | None:
    span = context.get_value(REQUEST_SPAN_KEY)
    return span if isinstance(span, Span) else None


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}
