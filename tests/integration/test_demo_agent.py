"""`make run-demo`'s agent through the real stack: openai SDK → gateway → a real LiteLLM proxy →
the fake model, with tools on the demo MCP server (HTTP) and mcp-server-time (stdio). No `agent=`
directive: the fake plays its `demo` agent, which picks its tools from the question and answers
from what they returned. The questions go through the session's LiteLLM (its gpt-4o-mini is the
fake too); the model list through one running config/litellm_demo_config.yaml, as run-demo does."""

from __future__ import annotations

import json
from datetime import datetime

import openai
import pytest
import yaml

from tests.conftest import TOKEN, start_litellm, time_server, write_mcp_config
from tests.integration.test_passthrough import WEATHER_TOOL
from tests.support.mcp import wait_for_servers
from tests.support.processes import REPO, free_port

DEMO_CONFIG = REPO / "config" / "litellm_demo_config.yaml"
REASONING = {"X-Routing-Mode": "reasoning"}


@pytest.fixture(scope="module")
def demo_gateway(start_gateway, demo_mcp, tmp_path_factory):
    demo = {"name": "demo", "url": demo_mcp.url + "/mcp"}
    config = write_mcp_config(tmp_path_factory.mktemp("demo-mcp") / "servers.yaml", demo, time_server())
    gateway = start_gateway(mcp_servers_config=config, tool_timeout_seconds=5)
    wait_for_servers(gateway, {"demo": "up", "time": "up"})
    return gateway


@pytest.fixture
def sdk(demo_gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=demo_gateway.base_url, api_key=TOKEN, max_retries=0)


def ask_agent(sdk: openai.OpenAI, question: str) -> tuple[list[dict], str]:
    """Stream a reasoning answer from gpt-4o-mini: its events and its answer text."""
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": question}],
            stream=True,
            extra_headers=REASONING,
        )
    )
    events = [e for c in chunks if c.choices and (e := getattr(c.choices[0].delta, "reasoning_event", None))]
    answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return events, answer


def only_tool_call(events: list[dict]) -> tuple[dict, dict]:
    """The one tool the agent called: its prediction and its result, as the stream reported them."""
    (start,) = [e for e in events if e["type"] == "tool_execution_start"]
    (result,) = [e for e in events if e["type"] == "tool_result"]
    (prediction,) = start["metadata"]["tool_predictions"]
    (outcome,) = result["metadata"]["tool_results"]
    assert outcome["success"], outcome
    assert outcome["tool_name"] == prediction["tool_name"]
    return prediction, outcome


def test_the_weather_in_paris_in_fahrenheit_comes_from_the_weather_tool(sdk):
    events, answer = ask_agent(sdk, "What is the weather in Paris, in Fahrenheit?")

    prediction, outcome = only_tool_call(events)
    assert (prediction["tool_name"], prediction["arguments"]) == ("get_weather", {"city": "Paris"})
    weather = json.loads(outcome["result"])  # the demo MCP server's answer, in °C
    fahrenheit = f"{weather['temperature_c'] * 9 / 5 + 32:.1f} °F"
    print(f"get_weather → {weather}; answer: {answer!r}")
    assert fahrenheit in answer, f"{fahrenheit} not in {answer!r}"
    assert weather["condition"] in answer
    assert events[-1]["metadata"] == {"total_steps": 2, "stop_reason": "finished"}


def test_a_stock_question_calls_the_stock_tool(sdk):
    events, answer = ask_agent(sdk, "What is the stock price of ACME?")

    prediction, outcome = only_tool_call(events)
    assert (prediction["tool_name"], prediction["arguments"]) == ("get_stock_price", {"symbol": "ACME"})
    quote = json.loads(outcome["result"])
    print(f"get_stock_price → {quote}; answer: {answer!r}")
    assert f"ACME trades at {quote['price']} USD" in answer


def test_a_units_question_calls_the_conversion_tool(sdk):
    events, answer = ask_agent(sdk, "Convert 5 km to miles")

    prediction, outcome = only_tool_call(events)
    assert prediction["tool_name"] == "convert_units"
    assert prediction["arguments"] == {"value": 5, "from_unit": "km", "to_unit": "mi"}
    converted = json.loads(outcome["result"])
    print(f"convert_units → {converted}; answer: {answer!r}")
    assert answer == f"5 km is {converted['value']} mi."


def test_a_time_question_calls_mcp_server_time(sdk):
    events, answer = ask_agent(sdk, "What time is it in Tokyo?")

    prediction, outcome = only_tool_call(events)
    assert (prediction["tool_name"], prediction["arguments"]) == ("get_current_time", {"timezone": "Asia/Tokyo"})
    now = json.loads(outcome["result"])  # from the third-party server, over stdio
    print(f"get_current_time → {now}; answer: {answer!r}")
    assert f"it is {datetime.fromisoformat(now['datetime']):%H:%M} on {now['day_of_week']}" in answer


def test_a_question_no_tool_helps_with_is_answered_without_tools(sdk):
    events, answer = ask_agent(sdk, "Hello, who are you?")

    assert [e["type"] for e in events] == ["iteration_start", "planning", "iteration_complete", "reasoning_complete"]
    assert events[1]["metadata"]["next_action"] == "finished"
    assert answer == "Echo: Hello, who are you?"


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_calling_conversation_ends_with_a_text_answer(sdk, stream):
    """What Open WebUI's native function calling does (passthrough): call, run the tool, send its result."""
    messages: list[dict] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = sdk.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls
    assert call.function.name == "get_weather"

    result = {"city": "Paris", "temperature_c": 21.5, "condition": "sunny", "humidity_percent": 40}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
    ]
    if stream:
        chunks = list(sdk.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL], stream=True))
        assert not [c for c in chunks if c.choices and c.choices[0].delta.tool_calls]
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        second = sdk.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
        assert second.choices[0].message.tool_calls is None
        finish, text = [second.choices[0].finish_reason], second.choices[0].message.content
    print(f"after the tool result: {finish} {text!r}")
    assert finish == ["stop"]
    assert text == "In Paris it is 21.5 °C and sunny, with 40% humidity."


@pytest.mark.timeout(300)  # it starts its own LiteLLM proxy, which takes a minute on a busy machine
def test_the_demo_lists_only_the_models_it_serves(launch_gateway, fake_upstream, logs_dir):
    """Test-only models (`needs-openai-key`, `fake-*`) stay in the tests' LiteLLM config."""
    dead_phoenix = f"http://127.0.0.1:{free_port()}/v1/traces"  # as run-demo without Phoenix
    litellm = start_litellm("litellm-demo", fake_upstream, logs_dir, dead_phoenix, config=DEMO_CONFIG)
    try:
        gateway = launch_gateway(llm_base_url=litellm.url)
        sdk = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
        ids = sorted(model.id for model in sdk.models.list())
        answer = sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    finally:
        litellm.stop()
    assert answer.choices[0].message.content == "Echo: Hi"  # served by the fake, no provider key
    print(f"models: {ids}")
    # local-llama is the sample routing policy's local model (make run-demo applies that policy).
    assert {i.split("/")[-1] for i in ids} == {"gpt-4o", "gpt-4o-mini", "local-llama"}
    assert {"gpt-4o", "gpt-4o-mini", "reasoning/gpt-4o-mini"} <= set(ids)


def test_the_demo_config_keeps_the_production_settings():
    demo = yaml.safe_load(DEMO_CONFIG.read_text())
    production = yaml.safe_load((REPO / "config" / "litellm_config.yaml").read_text())
    assert demo["general_settings"] == production["general_settings"]
    assert demo["litellm_settings"] == production["litellm_settings"]
    assert {m["model_name"] for m in demo["model_list"]} == {"gpt-4o", "gpt-4o-mini", "local-llama"}
    assert {m["litellm_params"]["api_base"] for m in demo["model_list"]} == {"os.environ/FAKE_UPSTREAM_BASE_URL"}
