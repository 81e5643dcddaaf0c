"""The span tree of real requests: a gateway served in-process with an in-memory exporter,
calling the fake model directly (so the traceparent it receives is exactly ours)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from api.errors import InvalidRequestError, UpstreamError
from tests.conftest import write_mcp_config
from tests.support.traced_app import TOKEN, serve_traced, traced_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTENT_KEYS = ("input.value", "output.value", "llm.input_messages.0.message.content", "tool.parameters")


def marker() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


def chat(model: str, text: str, **fields) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **fields}


def tree(spans) -> dict:
    """Spans by name (each name once per trace in these tests)."""
    named = {s.name: s for s in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def parent_of(span) -> str | None:
    return format_span_id(span.parent.span_id) if span.parent else None


def span_id(span) -> str:
    return format_span_id(span.context.span_id)


@pytest.fixture(scope="module")
async def traced(fake_upstream):
    async with serve_traced(traced_settings(fake_upstream.base_url)) as gateway:
        yield gateway


@pytest.fixture(scope="module")
async def traced_no_content(fake_upstream):
    async with serve_traced(traced_settings(fake_upstream.base_url, trace_include_content=False)) as gateway:
        yield gateway


@pytest.fixture
async def http(traced):
    async with httpx.AsyncClient(base_url=traced.url, headers=AUTH, timeout=10) as client:
        yield client


async def test_passthrough_span_tree_and_the_traceparent_the_upstream_receives(traced, http, fake_upstream):
    tag = marker()
    response = await http.post(
        "/v1/chat/completions",
        json=chat("fake-model", f"hi {tag}"),
        headers={"X-Session-ID": "sess-42", "X-Client-Request-Id": "client-7"},
    )
    assert response.status_code == 200
    trace_id = response.headers["x-trace-id"]
    assert len(trace_id) == 32

    spans = tree(await traced.spans(trace_id))
    assert set(spans) == {"POST /v1/chat/completions", "routing", "passthrough"}
    server, routing, llm = spans["POST /v1/chat/completions"], spans["routing"], spans["passthrough"]

    assert server.kind is SpanKind.SERVER
    assert server.parent is None
    assert server.attributes["openinference.span.kind"] == "CHAIN"
    assert server.attributes["session.id"] == "sess-42"
    assert server.attributes["gateway.request_id"] == response.headers["x-request-id"]
    assert server.attributes["gateway.client_request_id"] == "client-7"
    assert server.attributes["gateway.routing.path"] == "passthrough"
    assert server.attributes["gateway.routing.reason"] == "default"
    assert server.attributes["http.response.status_code"] == 200
    assert server.status.status_code is StatusCode.OK
    assert json.loads(server.attributes["input.value"]) == [{"role": "user", "content": f"hi {tag}"}]

    assert routing.attributes["openinference.span.kind"] == "CHAIN"
    assert parent_of(routing) == span_id(server)
    assert routing.attributes["gateway.routing.reason"] == "default"

    assert llm.attributes["openinference.span.kind"] == "LLM"
    assert parent_of(llm) == span_id(server)
    assert llm.attributes["gateway.component"] == "passthrough"
    assert json.loads(llm.attributes["metadata"]) == {"component": "passthrough", "session_id": "sess-42"}
    assert llm.attributes["session.id"] == "sess-42"
    assert llm.attributes["llm.model_name"] == "fake-model"
    assert llm.attributes["llm.token_count.prompt"] > 0
    assert llm.attributes["llm.token_count.completion"] > 0
    assert llm.attributes["llm.input_messages.0.message.content"] == f"hi {tag}"
    # The answer, as text and as the Messages view; never the raw chat.completion body.
    assert llm.attributes["output.value"] == f"Echo: hi {tag}"
    assert llm.attributes["output.mime_type"] == "text/plain"
    assert llm.attributes["llm.output_messages.0.message.role"] == "assistant"
    assert llm.attributes["llm.output_messages.0.message.content"] == f"Echo: hi {tag}"
    # The request span has the answer too (Phoenix's trace list and Sessions page), and the client.
    assert server.attributes["output.value"] == f"Echo: hi {tag}"
    assert server.attributes["user.id"] == "token-" + server.attributes["gateway.client_id"][:8]  # API_TOKENS' name

    # What reached the model: our trace, with our LLM span as the parent, and the component.
    upstream = fake_upstream.request_with(tag)
    version, upstream_trace, parent_span, _flags = upstream["headers"]["traceparent"].split("-")
    assert (version, upstream_trace, parent_span) == ("00", trace_id, span_id(llm))
    assert upstream["body"]["metadata"] == {"component": "passthrough", "session_id": "sess-42"}


async def test_client_metadata_is_kept_beside_the_component(http, fake_upstream):
    tag = marker()
    body = chat("fake-model", tag, metadata={"team": "blue"})
    assert (await http.post("/v1/chat/completions", json=body)).status_code == 200
    assert fake_upstream.request_with(tag)["body"]["metadata"] == {"team": "blue", "component": "passthrough"}


async def test_streaming_llm_span_carries_the_answer_and_tokens(traced, http):
    tag = marker()
    async with http.stream("POST", "/v1/chat/completions", json=chat("fake-model+chunks=4x1", tag, stream=True)) as r:
        assert r.status_code == 200
        trace_id = r.headers["x-trace-id"]
        await r.aread()
    llm = tree(await traced.spans(trace_id))["passthrough"]
    assert llm.attributes["output.value"] == f"Echo: {tag}"
    assert llm.attributes["output.mime_type"] == "text/plain"
    assert llm.attributes["llm.output_messages.0.message.content"] == f"Echo: {tag}"
    assert llm.attributes["llm.token_count.completion"] > 0
    assert llm.status.status_code is StatusCode.OK
    assert tree(await traced.spans(trace_id))["POST /v1/chat/completions"].attributes["output.value"] == f"Echo: {tag}"


TIERS = [
    pytest.param({"tools": [{"type": "function", "function": {"name": "f"}}]}, {}, "passthrough", "tools_present"),
    pytest.param({"response_format": {"type": "json_object"}}, {}, "passthrough", "response_format_present"),
    pytest.param({"model": "reasoning/fake-model"}, {}, "reasoning", "model_reasoning"),
    pytest.param({}, {"X-Routing-Mode": "passthrough"}, "passthrough", "header_passthrough"),
    pytest.param({}, {"X-Routing-Mode": "Reasoning"}, "reasoning", "header_reasoning"),
    pytest.param({}, {"X-Routing-Mode": "orchestration"}, "orchestration", "header_orchestration"),
    pytest.param({}, {}, "passthrough", "default"),
]


@pytest.mark.parametrize(("fields", "headers", "path", "reason"), TIERS)
async def test_each_routing_tier_on_the_routing_and_request_spans(traced, http, fields, headers, path, reason):
    body = {**chat("fake-model", marker()), **fields}
    response = await http.post("/v1/chat/completions", json=body, headers=headers)
    assert response.headers["x-routing-reason"] == reason
    spans = await traced.spans(response.headers["x-trace-id"])
    by_name = {s.name: s for s in spans}
    server, routing = by_name["POST /v1/chat/completions"], by_name["routing"]
    for span in (server, routing):
        assert span.attributes["gateway.routing.path"] == path
        assert span.attributes["gateway.routing.reason"] == reason
    assert parent_of(routing) == span_id(server)
    if path == "passthrough":
        assert response.status_code == 200
        assert by_name["passthrough"].attributes["gateway.component"] == "passthrough"
    elif path == "reasoning":
        assert response.status_code == 200
        agent = by_name["reasoning agent"]
        assert agent.attributes["openinference.span.kind"] == "AGENT"
        assert parent_of(agent) == span_id(server)
    else:
        # Orchestration is a stub: 501, our error.
        assert response.status_code == 501
        assert "passthrough" not in by_name
        assert server.status.status_code is StatusCode.ERROR


async def test_the_request_span_names_the_model_asked_for_and_the_model_sent(traced, http, fake_upstream):
    tag = marker()
    body = chat("reasoning/fake-model", tag)
    response = await http.post("/v1/chat/completions", json=body, headers={"X-Routing-Mode": "passthrough"})
    assert response.status_code == 200
    by_name = {s.name: s for s in await traced.spans(response.headers["x-trace-id"])}
    server = by_name["POST /v1/chat/completions"]
    assert server.attributes["gateway.requested_model"] == "reasoning/fake-model"
    assert server.attributes["gateway.model"] == "fake-model"
    assert by_name["passthrough"].attributes["llm.model_name"] == "fake-model"
    assert fake_upstream.request_with(tag)["body"]["model"] == "fake-model"


async def test_auto_routing_puts_the_classifier_llm_span_under_the_routing_span(fake_upstream):
    settings = traced_settings(fake_upstream.base_url, routing_classifier_model="fake-model+choose=passthrough")
    async with (
        serve_traced(settings) as gateway,
        httpx.AsyncClient(base_url=gateway.url, headers=AUTH, timeout=10) as client,
    ):
        tag = marker()
        response = await client.post(
            "/v1/chat/completions", json=chat("fake-model", tag), headers={"X-Routing-Mode": "auto"}
        )
        assert response.headers["x-routing-reason"] == "auto_passthrough"
        spans = await gateway.spans(response.headers["x-trace-id"])
    by_name = {s.name: s for s in spans}
    routing, classifier = by_name["routing"], by_name["routing classifier"]
    assert parent_of(classifier) == span_id(routing)
    assert classifier.attributes["openinference.span.kind"] == "LLM"
    assert classifier.attributes["gateway.component"] == "routing-classifier"
    assert json.loads(classifier.attributes["output.value"])["path"] == "passthrough"
    assert parent_of(by_name["passthrough"]) == parent_of(routing)  # the passthrough call, beside routing
    calls = [r for r in fake_upstream.requests_with(tag) if "choose=" in r["body"]["model"]]
    assert calls[0]["headers"]["traceparent"].split("-")[2] == span_id(classifier)
    assert calls[0]["body"]["metadata"]["component"] == "routing-classifier"


async def test_a_bad_routing_header_is_the_clients_error_not_ours(traced, http):
    response = await http.post(
        "/v1/chat/completions", json=chat("fake-model", marker()), headers={"X-Routing-Mode": "fastest"}
    )
    assert response.status_code == 400
    spans = tree(await traced.spans(response.headers["x-trace-id"]))
    server = spans["POST /v1/chat/completions"]
    assert server.status.status_code is StatusCode.UNSET  # a 4xx: OpenTelemetry's HTTP rule
    assert server.attributes["error.type"] == "invalid_routing_mode"
    assert server.attributes["gateway.outcome"] == "error"
    assert spans["routing"].events[0].attributes["exception.type"] == qualified(InvalidRequestError)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_upstream_error_fails_the_llm_and_request_spans(traced, http, stream):
    response = await http.post("/v1/chat/completions", json=chat("fake-model+error=500", marker(), stream=stream))
    assert response.status_code == 502
    spans = tree(await traced.spans(response.headers["x-trace-id"]))
    llm, server = spans["passthrough"], spans["POST /v1/chat/completions"]
    assert llm.status.status_code is StatusCode.ERROR
    assert llm.attributes["gateway.outcome"] == "error"
    (event,) = llm.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == qualified(UpstreamError)
    assert "500" in event.attributes["exception.message"]
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes["http.response.status_code"] == 502


async def test_a_stream_broken_after_the_first_byte_is_an_error_on_both_spans(traced, http):
    async with http.stream("POST", "/v1/chat/completions", json=chat("fake-model+break=2", "x", stream=True)) as r:
        assert r.status_code == 200
        trace_id = r.headers["x-trace-id"]
        assert b'"error"' in await r.aread()
    spans = tree(await traced.spans(trace_id))
    assert spans["passthrough"].status.status_code is StatusCode.ERROR
    assert spans["passthrough"].events[0].name == "exception"
    server = spans["POST /v1/chat/completions"]
    assert server.status.status_code is StatusCode.ERROR  # a 200 whose stream failed is still ours
    assert server.attributes["error.type"].startswith("upstream_")


async def test_a_client_disconnect_marks_the_spans_cancelled(traced, http, fake_upstream):
    tag = marker()
    body = chat("fake-model+chunks=200x50", tag, stream=True)
    async with http.stream("POST", "/v1/chat/completions", json=body) as r:
        trace_id = r.headers["x-trace-id"]
        async for _ in r.aiter_bytes():
            break  # the first chunk arrived: hang up
    spans = tree(await traced.spans(trace_id))
    for name in ("POST /v1/chat/completions", "passthrough"):
        span = spans[name]
        assert span.attributes["gateway.outcome"] == "cancelled", name
        assert [e.name for e in span.events] == ["cancelled"], name
        assert span.status.status_code is StatusCode.UNSET, name  # the client left; not our failure
    seq = fake_upstream.request_with(tag)["seq"]
    fake_upstream.wait_for_event(seq, "disconnected", timeout=2)


async def test_an_incoming_traceparent_is_continued(traced, http):
    caller_trace, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    headers = {"traceparent": f"00-{caller_trace}-{caller_span}-01", "tracestate": "vendor=abc"}
    response = await http.post("/v1/chat/completions", json=chat("fake-model", marker()), headers=headers)
    assert response.headers["x-trace-id"] == caller_trace
    server = tree(await traced.spans(caller_trace))["POST /v1/chat/completions"]
    assert format_trace_id(server.context.trace_id) == caller_trace
    assert parent_of(server) == caller_span
    assert server.parent.is_remote
    assert server.context.trace_state.get("vendor") == "abc"


async def test_an_auth_failure_is_traced_without_routing(traced):
    async with httpx.AsyncClient(base_url=traced.url) as client:
        response = await client.post("/v1/chat/completions", json=chat("fake-model", "x"))
    assert response.status_code == 401
    spans = tree(await traced.spans(response.headers["x-trace-id"]))
    assert set(spans) == {"POST /v1/chat/completions"}
    assert spans["POST /v1/chat/completions"].attributes["http.response.status_code"] == 401


async def test_health_and_metrics_are_not_traced(traced, http):
    for path in ("/health", "/health/ready", "/metrics"):
        response = await http.get(path)
        assert response.status_code == 200
        assert "x-trace-id" not in response.headers


async def test_trace_include_content_false_keeps_prompts_and_answers_off_spans(traced_no_content, fake_upstream):
    tag = marker()
    async with httpx.AsyncClient(base_url=traced_no_content.url, headers=AUTH) as client:
        for stream in (False, True):
            response = await client.post("/v1/chat/completions", json=chat("fake-model", tag, stream=stream))
            assert response.status_code == 200
            spans = await traced_no_content.spans(response.headers["x-trace-id"])
            assert {s.name for s in spans} == {"POST /v1/chat/completions", "routing", "passthrough"}
            for span in spans:
                assert not [k for k in span.attributes if k in CONTENT_KEYS or k.startswith("llm.input_messages")]
                assert tag not in str(dict(span.attributes))
            llm = tree(spans)["passthrough"]
            assert llm.attributes["llm.token_count.total"] > 0  # numbers are not content


async def test_reasoning_span_tree_with_steps_a_tool_call_and_the_synthesis(fake_upstream, demo_mcp, tmp_path):
    config = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"})
    async with (
        serve_traced(traced_settings(fake_upstream.base_url, mcp_servers_config=str(config))) as gateway,
        httpx.AsyncClient(base_url=gateway.url, headers=AUTH, timeout=30) as client,
    ):
        for _ in range(200):  # the MCP server connects in the background
            if gateway.services.mcp.tools():
                break
            await asyncio.sleep(0.05)
        tag = marker()
        response = await client.post(
            "/v1/chat/completions",
            json=chat("fake-model+agent=weather", tag),
            headers={"X-Routing-Mode": "reasoning", "X-Session-ID": "s-reason"},
        )
        assert response.status_code == 200
        spans = await gateway.spans(response.headers["x-trace-id"])

    ids = {span_id(s): s for s in spans}
    named = {s.name: s for s in spans}
    server, agent = named["POST /v1/chat/completions"], named["reasoning agent"]
    assert agent.attributes["openinference.span.kind"] == "AGENT"
    assert parent_of(agent) == span_id(server)
    assert agent.attributes["gateway.reasoning.stop_reason"] == "finished"
    steps = [named["step 1"], named["step 2"]]
    assert all(parent_of(step) == span_id(agent) for step in steps)
    assert all(step.attributes["openinference.span.kind"] == "CHAIN" for step in steps)

    step_calls = [s for s in spans if s.name.startswith("reasoning step")]
    assert sorted((ids[parent_of(s)].name, s.name) for s in step_calls) == [
        ("step 1", "reasoning step 1"),
        ("step 2", "reasoning step 2"),
    ]
    for llm in step_calls:
        assert llm.attributes["openinference.span.kind"] == "LLM"
        assert llm.attributes["gateway.component"] == "reasoning-agent"
        assert llm.attributes["session.id"] == "s-reason"
        assert llm.attributes["llm.output_messages.0.message.content"] == llm.attributes["output.value"]

    tool = named["tool get_weather"]
    assert tool.attributes["openinference.span.kind"] == "TOOL"
    assert parent_of(tool) == span_id(named["step 1"])
    assert tool.attributes["tool.name"] == "get_weather"
    assert tool.attributes["gateway.mcp.server"] == "demo"
    assert tool.attributes["gateway.tool.outcome"] == "ok"
    assert json.loads(tool.attributes["tool.parameters"]) == {"city": "Paris"}

    synthesis = named["synthesis"]
    assert parent_of(synthesis) == span_id(agent)
    assert synthesis.attributes["gateway.component"] == "reasoning-agent"
    assert synthesis.attributes["output.value"] == f"Echo: {tag}"
    # The answer is the agent's output and the request's.
    assert agent.attributes["output.value"] == server.attributes["output.value"] == f"Echo: {tag}"

    # Every call that reached the model names its own LLM span as the parent.
    llm_spans = {span_id(s) for s in [*step_calls, synthesis]}
    parents = {r["headers"]["traceparent"].split("-")[2] for r in fake_upstream.requests_with(tag)}
    assert parents == llm_spans


async def test_a_routing_policy_rule_is_named_on_the_spans_and_what_it_matched_is_not(fake_upstream, tmp_path):
    policy = tmp_path / "routing_policy.yaml"
    policy.write_text(
        "rules:\n  - {name: code_names, when: {terms: [falcon]}, action: use_model, model: gpt-4o-mini}\n"
    )
    settings = traced_settings(fake_upstream.base_url, routing_policy_config=policy, trace_include_content=False)
    tag = marker()
    async with serve_traced(settings) as gateway, httpx.AsyncClient(base_url=gateway.url, headers=AUTH) as client:
        response = await client.post("/v1/chat/completions", json=chat("fake-model", f"Project Falcon {tag}"))
        assert response.status_code == 200
        spans = tree(await gateway.spans(response.headers["x-trace-id"]))
    server, routing = spans["POST /v1/chat/completions"], spans["routing"]
    print({k: v for k, v in server.attributes.items() if k.startswith("gateway.")})
    assert server.attributes["gateway.routing.policy"] == routing.attributes["gateway.routing.policy"] == "code_names"
    assert server.attributes["gateway.model"] == spans["passthrough"].attributes["llm.model_name"] == "gpt-4o-mini"
    assert fake_upstream.request_with(tag)["body"]["model"] == "gpt-4o-mini"
    for span in spans.values():
        assert "falcon" not in str(dict(span.attributes)).lower()
