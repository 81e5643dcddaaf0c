"""Passthrough through the real stack: openai SDK → gateway → LiteLLM proxy → fake model.

Each test tags its request with a unique marker so it can look at exactly what reached
the model (the fake upstream records every request it receives).
"""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest

from tests.conftest import TOKEN


def marker() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_non_streaming_chat_sync(client, fake_upstream):
    tag = marker()
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=user(f"hello {tag}"))
    completion = raw.parse()
    assert completion.choices[0].message.content == f"Echo: hello {tag}"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0
    assert raw.headers["x-routing-path"] == "passthrough"
    assert raw.headers["x-routing-reason"] == "default"
    assert len(raw.headers["x-request-id"]) >= 16
    assert fake_upstream.request_with(tag)["body"]["model"] == "gpt-4o"


async def test_non_streaming_chat_async(aclient):
    tag = marker()
    completion = await aclient.chat.completions.create(model="gpt-4o-mini", messages=user(tag))
    assert completion.choices[0].message.content == f"Echo: {tag}"
    assert completion.object == "chat.completion"


def test_streaming_chat_sync(client):
    tag = marker()
    chunks = list(
        client.chat.completions.create(model="fake-model+chunks=5x5", messages=user(f"a b c d {tag}"), stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: a b c d {tag}"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" for c in chunks)


async def test_streaming_chat_async(aclient):
    tag = marker()
    stream = await aclient.chat.completions.create(model="gpt-4o", messages=user(tag), stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == f"Echo: {tag}"


def test_tools_and_tool_choice_reach_the_upstream_and_tool_calls_come_back(client, fake_upstream):
    tag = marker()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=user(f"weather in Paris? {tag}"),
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
    )
    completion = raw.parse()
    assert raw.headers["x-routing-reason"] == "tools_present"
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "get_weather"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "example"}
    sent = fake_upstream.request_with(tag)["body"]
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False


def test_streamed_tool_calls(client):
    tag = marker()
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=user(f"weather? {tag}"), tools=[WEATHER_TOOL], tool_choice="required", stream=True
        )
    )
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_tool_routing_wins_over_the_routing_header(client, fake_upstream):
    tag = marker()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=user(tag), tools=[WEATHER_TOOL], extra_headers={"X-Routing-Mode": "orchestration"}
    )
    assert raw.headers["x-routing-path"] == "passthrough"
    assert raw.parse().choices[0].finish_reason == "tool_calls"


def test_response_format_json_schema_reaches_the_upstream(client, fake_upstream):
    tag = marker()
    schema = {
        "name": "answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
            "required": ["city", "temp_c"],
            "additionalProperties": False,
        },
    }
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=user(tag), response_format={"type": "json_schema", "json_schema": schema}
    )
    assert raw.headers["x-routing-reason"] == "response_format_present"
    assert json.loads(raw.parse().choices[0].message.content) == {"city": "example", "temp_c": 1}
    assert fake_upstream.request_with(tag)["body"]["response_format"] == {"type": "json_schema", "json_schema": schema}


def test_sampling_fields_and_unknown_fields_reach_the_upstream_unchanged(client, fake_upstream):
    tag = marker()
    client.chat.completions.create(
        model="gpt-4o",
        messages=user(tag),
        seed=42,
        max_completion_tokens=17,
        temperature=0,
        top_p=0.5,
        user="user-7",
        extra_body={"some_future_field": {"nested": [1, 2, 3]}, "logit_bias": {"50256": -100}},
    )
    sent = fake_upstream.request_with(tag)["body"]
    assert sent["seed"] == 42
    assert sent["max_completion_tokens"] == 17
    assert sent["temperature"] == 0
    assert sent["top_p"] == 0.5
    assert sent["user"] == "user-7"
    assert sent["some_future_field"] == {"nested": [1, 2, 3]}
    assert sent["logit_bias"] == {"50256": -100}


def test_multimodal_content_parts_reach_the_upstream(client, fake_upstream):
    tag = marker()
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": f"what is this? {tag}"}, image]}]
    completion = client.chat.completions.create(model="gpt-4o", messages=messages)
    assert completion.choices[0].message.content == f"Echo: what is this? {tag} [1 image(s)]"
    assert fake_upstream.request_with(tag)["body"]["messages"] == messages


def test_usage_chunk_only_when_the_client_asks(client):
    with_usage = list(
        client.chat.completions.create(
            model="gpt-4o", messages=user(marker()), stream=True, stream_options={"include_usage": True}
        )
    )
    without_usage = list(client.chat.completions.create(model="gpt-4o", messages=user(marker()), stream=True))
    assert with_usage[-1].usage is not None
    assert with_usage[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in without_usage)


def test_models_lists_upstream_models_and_virtual_twins(client):
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o", "gpt-4o-mini"} <= ids
    assert {"reasoning/gpt-4o", "auto/gpt-4o"} <= ids


@pytest.mark.parametrize("model", ["reasoning/gpt-4o", "auto/gpt-4o"])
def test_the_header_wins_over_a_prefix_which_is_stripped_before_the_upstream(client, fake_upstream, model):
    tag = marker()
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=user(tag), extra_headers={"X-Routing-Mode": "passthrough"}
    )
    assert raw.headers["x-routing-reason"] == "header_passthrough"
    assert fake_upstream.request_with(tag)["body"]["model"] == "gpt-4o"


def test_tools_win_over_the_model_prefix(client, fake_upstream):
    tag = marker()
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    raw = client.chat.completions.with_raw_response.create(model="reasoning/gpt-4o", messages=user(tag), tools=tools)
    assert (raw.headers["x-routing-path"], raw.headers["x-routing-reason"]) == ("passthrough", "tools_present")
    seen = fake_upstream.request_with(tag)["body"]
    assert seen["model"] == "gpt-4o"
    assert seen["tools"][0]["function"]["name"] == "lookup"


def test_an_unknown_prefix_is_just_a_model_name(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="thinking/gpt-4o", messages=user(marker()))
    assert caught.value.response.headers["x-routing-reason"] == "default"  # not a virtual model: passthrough
    assert caught.value.body["code"] == "model_not_found"
    assert "thinking/gpt-4o" in caught.value.body["message"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ({"X-Client-Request-Id": "trace-abc.123"}, "trace-abc.123"),
        ({"X-Request-Id": "legacy:42"}, "legacy:42"),  # older clients: their X-Request-Id is theirs, not ours
        ({"X-Client-Request-Id": "mine", "X-Request-Id": "other"}, "mine"),
        ({"X-Client-Request-Id": "not sane; <script>"}, None),
        ({"X-Request-Id": "x" * 129}, None),
        ({}, None),
    ],
)
def test_the_request_id_is_the_gateways_and_the_callers_own_is_kept_beside_it(gateway, sent, kept):
    body = {"model": "gpt-4o", "messages": user(marker())}
    response = httpx.post(
        gateway.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {TOKEN}", **sent}
    )
    ours = response.headers["x-request-id"]
    assert ours not in sent.values()
    assert len(ours) == 32  # a fresh uuid4, in hex
    assert int(ours, 16) >= 0
    assert gateway.access_line(ours)["client_request_id"] == kept


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_both_transports_pass_through(start_gateway, transport):
    gateway = start_gateway(llm_http_transport=transport)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    assert client.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content == "Echo: hi"
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: hi"


def test_session_id_is_recorded_when_sane(gateway):
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Session-ID": "chat-42"}
    response = httpx.post(
        gateway.base_url + "/chat/completions", json={"model": "gpt-4o", "messages": user("hi")}, headers=headers
    )
    assert gateway.access_line(response.headers["x-request-id"])["session_id"] == "chat-42"


def test_cors_preflight_for_configured_origins(start_gateway):
    gateway = start_gateway(cors_origins="http://localhost:8080")
    preflight = httpx.options(
        gateway.base_url + "/chat/completions",
        headers={"Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8080"
    other = httpx.options(
        gateway.base_url + "/chat/completions",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers
