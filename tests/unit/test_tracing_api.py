"""The tracing API a path uses (spans, LLM calls, tools), with an in-memory exporter."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_span_id

from api.config import Settings
from api.errors import UpstreamError
from api.observability.export import ExportState, MonitoredExporter, export_health
from api.observability.otlp import traces_url
from api.observability.tracing import AGENT, REQUEST_SPAN_KEY, SESSION_KEY, Tracing

REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "secret question"}], "temperature": 0}


def settings(**overrides) -> Settings:
    # Explicit values win over the environment, so a developer's shell cannot turn tracing on.
    values = {"phoenix_collector_endpoint": None, "otel_exporter_otlp_endpoint": None, **overrides}
    return Settings(_env_file=None, llm_api_key="sk-x", require_auth=False, **values)


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter):
    tracing = Tracing(settings(), exporter)
    tracing.start()
    yield tracing
    asyncio.run(tracing.shutdown())


def finished(tracing, exporter) -> dict:
    tracing.force_flush()
    return {s.name: s for s in exporter.get_finished_spans()}


def test_off_without_an_endpoint_and_free_of_spans():
    tracing = Tracing(settings())
    tracing.start()
    assert not tracing.configured
    assert tracing.tracer is None
    call = tracing.start_llm_call("passthrough", REQUEST)
    assert call.headers == {}  # nothing to propagate
    assert not call.span.is_recording()
    # LiteLLM still learns who called, tracing or not.
    assert call.body == {**REQUEST, "metadata": {"component": "passthrough"}}
    with tracing.span("reasoning", AGENT) as span:
        assert not span.is_recording()
    call.end()


def test_an_endpoint_turns_tracing_on(monkeypatch):
    tracing = Tracing(settings(phoenix_collector_endpoint="http://127.0.0.1:9/"))
    assert tracing.configured
    tracing.start()
    assert tracing.tracer is not None
    asyncio.run(tracing.shutdown())


def test_llm_call_headers_name_its_span_and_body_merges_metadata(tracing, exporter):
    request = {**REQUEST, "metadata": {"team": "blue", "component": "theirs"}}
    call = tracing.start_llm_call("reasoning-agent", request, name="reasoning step")
    parent = call.headers["traceparent"].split("-")[2]
    assert parent == format_span_id(call.span.get_span_context().span_id)
    assert call.extra_body == {"metadata": {"team": "blue", "component": "reasoning-agent"}}
    assert call.body["metadata"] == call.extra_body["metadata"]
    call.set_result(usage={"prompt_tokens": 3, "completion_tokens": 2}, output="the answer")
    call.end()
    call.end()  # idempotent
    span = finished(tracing, exporter)["reasoning step"]
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.OK
    attributes = span.attributes
    assert attributes["openinference.span.kind"] == "LLM"
    assert attributes["llm.token_count.total"] == 5
    assert attributes["output.value"] == "the answer"
    assert json.loads(attributes["llm.invocation_parameters"]) == {"model": "gpt-4o", "temperature": 0}
    assert json.loads(attributes["metadata"])["component"] == "reasoning-agent"


def test_llm_span_records_a_failure_with_its_exception(tracing, exporter):
    with pytest.raises(UpstreamError), tracing.llm_span("routing-classifier", REQUEST):
        raise UpstreamError("boom")
    span = finished(tracing, exporter)["llm"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].name == "exception"
    assert span.events[0].attributes["exception.message"] == "boom"


def test_cancellation_is_marked_not_failed(tracing, exporter):
    async def cancelled_call():
        with tracing.llm_span("passthrough", REQUEST):
            await asyncio.sleep(10)

    async def main():
        task = asyncio.create_task(cancelled_call())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = finished(tracing, exporter)["llm"]
    assert span.attributes["gateway.outcome"] == "cancelled"
    assert span.status.status_code is StatusCode.UNSET
    assert [e.name for e in span.events] == ["cancelled"]


def test_agent_tool_and_llm_spans_nest_and_carry_the_session(tracing, exporter):
    token = context.attach(context.set_value(SESSION_KEY, "sess-7"))
    try:
        with tracing.span("reasoning", AGENT) as agent:
            assert trace.get_current_span() is agent
            with tracing.llm_span("reasoning-agent", REQUEST) as call:
                assert json.loads(call.span.attributes["metadata"])["session_id"] == "sess-7"
            with tracing.tool_span("web", "search", {"q": "x"}):
                pass
    finally:
        context.detach(token)
    spans = finished(tracing, exporter)
    agent_id = spans["reasoning"].context.span_id
    assert spans["reasoning"].attributes["openinference.span.kind"] == "AGENT"
    assert spans["llm"].parent.span_id == agent_id
    tool = spans["tool search"]
    assert tool.parent.span_id == agent_id
    assert tool.attributes["openinference.span.kind"] == "TOOL"
    assert tool.attributes["tool.name"] == "search"
    assert tool.attributes["gateway.mcp.server"] == "web"
    assert json.loads(tool.attributes["tool.parameters"]) == {"q": "x"}
    assert all(s.attributes["session.id"] == "sess-7" for s in spans.values())


def test_content_stays_off_spans_when_not_allowed(exporter):
    tracing = Tracing(settings(trace_include_content=False), exporter)
    tracing.start()
    with tracing.llm_span("passthrough", REQUEST) as call:
        call.set_result(usage={"prompt_tokens": 1, "completion_tokens": 1}, output="secret answer")
    with tracing.tool_span("web", "search", {"q": "secret"}) as span:
        tracing.set_input(span, "secret input")
        tracing.set_output(span, "secret output")
    for span in finished(tracing, exporter).values():
        assert "secret" not in str(dict(span.attributes))
    asyncio.run(tracing.shutdown())


def test_stream_chunks_become_the_answer_only_with_content(tracing, exporter):
    call = tracing.start_llm_call("passthrough", {**REQUEST, "stream": True})
    for text in ("Hel", "lo"):
        call.add_chunk(json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}).encode())
    call.add_chunk(b'{"choices": [], "usage": {"prompt_tokens": 1}}')
    call.end()
    span = finished(tracing, exporter)["llm"]
    assert span.attributes["output.value"] == "Hello"
    assert span.attributes["llm.output_messages.0.message.content"] == "Hello"


@pytest.mark.parametrize("stream", [False, True])
def test_the_call_that_answers_the_request_gives_the_request_span_its_output(tracing, exporter, stream):
    request_span = tracing.tracer.start_span("POST /v1/chat/completions")
    token = context.attach(context.set_value(REQUEST_SPAN_KEY, request_span, trace.set_span_in_context(request_span)))
    try:
        with tracing.llm_span("passthrough", {**REQUEST, "stream": stream}, "classifier") as call:
            call.set_result(output="not the answer")
        call = tracing.start_llm_call("passthrough", {**REQUEST, "stream": stream}, "answer", answers_request=True)
        if stream:
            call.add_chunk(b'{"choices": [{"index": 0, "delta": {"content": "the answer"}}]}')
        else:
            call.set_result(output={"role": "assistant", "content": "the answer"})
        call.end()
    finally:
        context.detach(token)
    request_span.end()
    assert finished(tracing, exporter)["POST /v1/chat/completions"].attributes["output.value"] == "the answer"


def test_traces_url():
    assert traces_url("http://phoenix:6006") == "http://phoenix:6006/v1/traces"
    assert traces_url("http://phoenix:6006/") == "http://phoenix:6006/v1/traces"
    assert traces_url("https://collector/v1/traces") == "https://collector/v1/traces"


class FailingExporter(InMemorySpanExporter):
    def export(self, spans):
        raise ConnectionError("collector down")


def test_export_health_reports_a_failing_exporter_as_degraded():
    assert export_health(None).status == "ok"
    monitored = MonitoredExporter(FailingExporter())
    assert export_health(monitored.state).status == "ok"
    assert monitored.export([]).name == "FAILURE"  # the exporter's exception is contained
    health = export_health(monitored.state)
    assert health.status == "degraded"
    assert "1 batches lost" in health.detail
    assert export_health(ExportState(last_failure_at=1.0, last_success_at=2.0)).status == "ok"


def test_the_documented_reasoning_recipe_gives_the_contracts_tree(tracing, exporter):
    """ARCHITECTURE.md's recipe, two steps and a tool call: the tree the reasoning path must produce."""

    async def reasoning():
        with tracing.span("reasoning", AGENT):
            for step in (1, 2):
                with tracing.span(f"step {step}"), tracing.llm_span("reasoning-agent", REQUEST, name="reasoning step"):
                    pass
                if step == 1:
                    # Tool calls run as tasks; each copies the context, so its span nests.
                    async def call_tool():
                        with tracing.tool_span("web", "search", {"q": "x"}):
                            await asyncio.sleep(0)

                    await asyncio.gather(asyncio.create_task(call_tool()))
            with tracing.llm_span("reasoning-agent", REQUEST, name="synthesis"):
                pass

    asyncio.run(reasoning())
    tracing.force_flush()
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    shape = sorted(
        (s.name, by_id[s.parent.span_id].name if s.parent else None, s.attributes["openinference.span.kind"])
        for s in spans
    )
    assert shape == [
        ("reasoning", None, "AGENT"),
        ("reasoning step", "step 1", "LLM"),
        ("reasoning step", "step 2", "LLM"),
        ("step 1", "reasoning", "CHAIN"),
        ("step 2", "reasoning", "CHAIN"),
        ("synthesis", "reasoning", "LLM"),
        ("tool search", "reasoning", "TOOL"),
    ]
    assert {
        json.loads(s.attributes["metadata"])["component"]
        for s in spans
        if s.name != "tool search" and "metadata" in s.attributes
    } == {"reasoning-agent"}


def test_span_limits_cut_long_values_and_cap_the_attribute_count(exporter):
    tracing = Tracing(settings(trace_max_attribute_chars=16, trace_max_attributes=4), exporter)
    tracing.start()
    with tracing.span("bounded") as span:
        span.set_attributes({f"extra.{i}": i for i in range(10)})
        span.set_attribute("output.value", "z" * 1000)  # the newest: the oldest are dropped
    bounded = finished(tracing, exporter)["bounded"]
    assert bounded.attributes["output.value"] == "z" * 16
    assert len(bounded.attributes) == 4
    asyncio.run(tracing.shutdown())
