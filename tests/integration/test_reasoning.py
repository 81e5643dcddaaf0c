"""The reasoning path through the real stack: openai SDK / httpx → gateway → LiteLLM proxy →
fake model playing an agent, with tools on our demo MCP server (streamable HTTP) and the
third-party `mcp-server-time` (stdio)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import OPS_HEADERS, TOKEN, start_demo_mcp, time_server, write_mcp_config
from tests.support.mcp import revive, wait_for_servers
from tests.support.processes import free_port

REASONING = {"X-Routing-Mode": "reasoning"}
HEADERS = {"Authorization": f"Bearer {TOKEN}", **REASONING}
EVENT_TYPES_OF_A_TOOL_STEP = [
    "iteration_start",
    "planning",
    "tool_execution_start",
    "tool_result",
    "iteration_complete",
]


def marker() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def mcp_config(demo_mcp, tmp_path_factory) -> Path:
    return write_mcp_config(
        tmp_path_factory.mktemp("mcp") / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"}, time_server()
    )


@pytest.fixture(scope="module")
def reasoning_gateway(start_gateway, mcp_config):
    gateway = start_gateway(mcp_servers_config=mcp_config, tool_timeout_seconds=2, max_reasoning_iterations=4)
    wait_for_servers(gateway, {"demo": "up", "time": "up"})
    return gateway


def stream(gateway, body: dict, headers: dict = HEADERS) -> list:
    """Every SSE payload of a streamed answer, decoded; `[DONE]` stays a string."""
    with httpx.stream(
        "POST", gateway.base_url + "/chat/completions", json={**body, "stream": True}, headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        return [_decode(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def _decode(data: str):
    return data if data == "[DONE]" else json.loads(data)


def reasoning_events(payloads: list) -> list[dict]:
    return [
        p["choices"][0]["delta"]["reasoning_event"]
        for p in payloads
        if isinstance(p, dict) and p.get("choices") and "reasoning_event" in p["choices"][0]["delta"]
    ]


def answer_text(payloads: list) -> str:
    return "".join(
        p["choices"][0]["delta"].get("content") or "" for p in payloads if isinstance(p, dict) and p.get("choices")
    )


def ask(model_scenario: str, text: str, **fields) -> dict:
    return {"model": f"fake-model+agent={model_scenario}", "messages": [{"role": "user", "content": text}], **fields}


# ---- the stream ----------------------------------------------------------------------------


def test_streamed_reasoning_calls_both_mcp_servers_and_streams_the_answer(reasoning_gateway, fake_upstream):
    tag = marker()
    payloads = stream(reasoning_gateway, ask("weather_and_time", f"Weather and time in Paris? {tag}"))

    assert payloads[-1] == "[DONE]"
    chunks = payloads[:-1]
    assert {(c["id"], c["created"], c["object"]) for c in chunks} == {
        (chunks[0]["id"], chunks[0]["created"], "chat.completion.chunk")
    }
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])

    events = reasoning_events(chunks)
    assert [e["type"] for e in events] == [
        *EVENT_TYPES_OF_A_TOOL_STEP,
        *EVENT_TYPES_OF_A_TOOL_STEP,
        "iteration_start",
        "planning",
        "iteration_complete",
        "reasoning_complete",
    ]
    assert [e.get("step_iteration") for e in events] == [1] * 5 + [2] * 5 + [3] * 3 + [None]
    for chunk in chunks:
        delta = chunk["choices"][0]["delta"]
        if "reasoning_event" in delta:
            assert delta["reasoning_content"].endswith("\n\n")

    planning = events[1]["metadata"]
    assert planning == {
        "thought": "First, the weather in Paris.",
        "next_action": "use_tools",
        "tools_planned": ["get_weather"],
    }
    assert events[2]["metadata"] == {
        "tool_predictions": [
            {"tool_name": "get_weather", "arguments": {"city": "Paris"}, "reasoning": "get_weather gives what I need"}
        ],
        "concurrent_execution": False,
    }
    weather = events[3]["metadata"]["tool_results"][0]
    assert (weather["tool_name"], weather["success"], weather["error"]) == ("get_weather", True, None)
    assert json.loads(weather["result"])["city"] == "Paris"  # from the demo MCP server over HTTP
    assert weather["execution_time_ms"] >= 0
    clock = events[8]["metadata"]["tool_results"][0]
    assert clock["tool_name"] == "get_current_time"
    assert json.loads(clock["result"])["timezone"] == "Europe/Paris"  # from mcp-server-time over stdio
    assert events[4]["metadata"] == {"had_tools": True}
    assert events[12]["metadata"] == {"had_tools": False}
    assert events[-1]["metadata"] == {"total_steps": 3, "stop_reason": "finished"}

    # The answer streams after the reasoning, then the finish chunk; no usage unless asked.
    after = chunks[chunks.index(next(c for c in chunks if reasoning_events([c]) == [events[-1]])) + 1 :]
    assert answer_text(after) == f"Echo: Weather and time in Paris? {tag}"
    assert after[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"] for c in chunks)

    # The tool results reached the answer call.
    synthesis = [r for r in fake_upstream.requests_with(tag) if "response_format" not in r["body"]]
    assert len(synthesis) == 1
    assert '"city":"Paris"' in synthesis[0]["body"]["messages"][0]["content"]


def test_the_openai_sdk_reads_the_reasoning_stream(reasoning_gateway):
    client = openai.OpenAI(base_url=reasoning_gateway.base_url, api_key=TOKEN, max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="fake-model+agent=weather",
            messages=[{"role": "user", "content": marker()}],
            stream=True,
            extra_headers=REASONING,
        )
    )
    types = [
        c.choices[0].delta.reasoning_event["type"]
        for c in chunks
        if getattr(c.choices[0].delta, "reasoning_event", None)
    ]
    assert types[0] == "iteration_start"
    assert types[-1] == "reasoning_complete"
    thinking = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks)
    assert "get_weather" in thinking
    assert "".join(c.choices[0].delta.content or "" for c in chunks).startswith("Echo: ")


def test_non_streaming_answer_carries_the_events(reasoning_gateway):
    client = openai.OpenAI(base_url=reasoning_gateway.base_url, api_key=TOKEN, max_retries=0)
    tag = marker()
    raw = client.chat.completions.with_raw_response.create(
        model="fake-model+agent=weather_and_time", messages=[{"role": "user", "content": tag}], extra_headers=REASONING
    )
    completion = raw.parse()
    assert raw.headers["x-routing-path"] == "reasoning"
    assert raw.headers["x-routing-reason"] == "header_reasoning"
    message = completion.choices[0].message
    assert message.content == f"Echo: {tag}"
    assert completion.choices[0].finish_reason == "stop"
    events = message.reasoning_events
    assert events[-1] == {"type": "reasoning_complete", "metadata": {"total_steps": 3, "stop_reason": "finished"}}
    assert "get_current_time" in message.reasoning_content
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_usage_totals_cover_every_call_when_asked(reasoning_gateway, fake_upstream):
    tag = marker()
    payloads = stream(reasoning_gateway, ask("weather", tag, stream_options={"include_usage": True}))
    usage_chunk = payloads[-2]
    assert usage_chunk["choices"] == []
    calls = fake_upstream.requests_with(tag)
    assert len(calls) == 3  # two steps and the answer
    # The fake counts (words + 3) per message; the total is over every call of the request.
    expected_prompt = sum(len(str(m.get("content") or "").split()) + 3 for r in calls for m in r["body"]["messages"])
    assert usage_chunk["usage"]["prompt_tokens"] == expected_prompt
    assert usage_chunk["usage"]["completion_tokens"] > 0


def test_model_prefix_selects_reasoning_without_a_header(reasoning_gateway):
    response = httpx.post(
        reasoning_gateway.base_url + "/chat/completions",
        json={"model": "reasoning/fake-model+agent=demo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert response.headers["x-routing-reason"] == "model_reasoning"
    assert response.json()["model"] == "fake-model+agent=demo"  # the prefix never reaches the model


def test_a_chat_ui_picks_reasoning_by_model_name_and_shows_paragraphs(reasoning_gateway, fake_upstream):
    """What Open WebUI or LibreChat does: no header, `reasoning/<m>` from the model list, and the
    `reasoning_content` deltas joined into one text shown as thinking."""
    client = openai.OpenAI(base_url=reasoning_gateway.base_url, api_key=TOKEN, max_retries=0)
    tag = marker()
    raw = client.chat.completions.with_raw_response.create(
        model="reasoning/fake-model+agent=weather", messages=[{"role": "user", "content": tag}], stream=True
    )
    assert raw.headers["x-routing-reason"] == "model_reasoning"
    chunks = list(raw.parse())

    assert {call["body"]["model"] for call in fake_upstream.requests_with(tag)} == {"fake-model+agent=weather"}
    thinking = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    paragraphs = thinking.split("\n\n")
    assert paragraphs[-1] == ""  # every event's text ends in a blank line
    paragraphs = paragraphs[:-1]
    assert paragraphs[:3] == [
        "**Step 1**",
        "I should look up the weather.\nNext: use get_weather.",  # the step's thought in full
        'Calling get_weather(city="Paris") in order.',
    ]
    result = paragraphs[3]
    assert result.startswith('✓ get_weather(city="Paris") → {')  # the tool's JSON result, summarised
    assert result.endswith(" ms)")
    assert "\n" not in result
    assert paragraphs[4] == "Step 1 done."
    assert paragraphs[-1] == "Reasoning complete: 2 step(s), finished."
    assert not any(p.lstrip().startswith(("{", "[")) for p in paragraphs)  # no raw event dumps
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: {tag}"


# ---- what the model sees -------------------------------------------------------------------


def test_system_prompt_and_temperature_zero_reach_every_call(reasoning_gateway, fake_upstream):
    tag = marker()
    system = f"You are terse. {tag}"
    stream(
        reasoning_gateway,
        {
            "model": "fake-model+agent=weather_and_time",
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": "Paris?"}],
            "temperature": 0,
            "seed": 11,
        },
    )
    calls = fake_upstream.requests_with(tag)
    assert len(calls) == 4  # three steps and the answer
    for call in calls:
        assert call["body"]["temperature"] == 0
        assert call["body"]["seed"] == 11
        assert {"role": "system", "content": system} in call["body"]["messages"]
        assert {"role": "user", "content": "Paris?"} in call["body"]["messages"]


def test_concurrent_tools(reasoning_gateway):
    events = reasoning_events(stream(reasoning_gateway, ask("two_tools", marker())))
    start = next(e for e in events if e["type"] == "tool_execution_start")
    assert start["metadata"]["concurrent_execution"] is True
    results = next(e for e in events if e["type"] == "tool_result")["metadata"]["tool_results"]
    assert [(r["tool_name"], r["success"]) for r in results] == [("get_weather", True), ("get_stock_price", True)]


def test_a_failing_tool_is_reported_and_fed_back(reasoning_gateway, fake_upstream):
    tag = marker()
    payloads = stream(reasoning_gateway, ask("tool_fails", tag))
    result = next(e for e in reasoning_events(payloads) if e["type"] == "tool_result")["metadata"]["tool_results"][0]
    assert result["success"] is False
    assert "cannot convert m to parsec" in result["error"]
    assert payloads[-1] == "[DONE]"
    assert answer_text(payloads).startswith("Echo: ")
    second_step = [r for r in fake_upstream.requests_with(tag) if "response_format" in r["body"]][1]
    assert "cannot convert m to parsec" in second_step["body"]["messages"][-1]["content"]


def test_a_tool_that_times_out_is_a_failed_result_and_the_call_is_cancelled(reasoning_gateway, demo_mcp):
    before = len(httpx.get(demo_mcp.url + "/events").json())
    events = reasoning_events(stream(reasoning_gateway, ask("slow_tool", marker())))
    result = next(e for e in events if e["type"] == "tool_result")["metadata"]["tool_results"][0]
    assert (result["tool_name"], result["success"]) == ("slow_operation", False)
    assert result["error"] == "timed out after 2 s"
    assert events[-1]["metadata"]["stop_reason"] == "finished"
    seen = [e["event"] for e in httpx.get(demo_mcp.url + "/events").json()[before:]]
    assert seen == ["started", "cancelled"]


def test_an_unknown_tool_is_a_failed_result(reasoning_gateway):
    events = reasoning_events(stream(reasoning_gateway, ask("unknown_tool", marker())))
    result = next(e for e in events if e["type"] == "tool_result")["metadata"]["tool_results"][0]
    assert result["success"] is False
    assert result["error"].startswith("unknown tool 'teleport' (available: ")
    assert "get_weather" in result["error"]


def test_max_iterations_then_an_answer(reasoning_gateway):
    payloads = stream(reasoning_gateway, ask("think_forever", marker()))
    events = reasoning_events(payloads)
    assert [e["type"] for e in events].count("iteration_start") == 4
    assert events[-1]["metadata"] == {"total_steps": 4, "stop_reason": "max_iterations"}
    assert answer_text(payloads).startswith("Echo: ")


def test_an_invalid_step_is_retried_once(reasoning_gateway, fake_upstream):
    tag = marker()
    events = reasoning_events(stream(reasoning_gateway, ask("invalid_once", tag)))
    assert "error" not in [e["type"] for e in events]
    assert events[1]["metadata"]["thought"] == "Now properly: the weather."
    retry = [r for r in fake_upstream.requests_with(tag) if "response_format" in r["body"]][1]
    assert "not a valid step" in retry["body"]["messages"][-1]["content"]


def test_an_invalid_step_twice_ends_with_step_error(reasoning_gateway):
    payloads = stream(reasoning_gateway, ask("invalid_twice", marker()))
    events = reasoning_events(payloads)
    assert [e["type"] for e in events] == ["iteration_start", "error", "reasoning_complete"]
    assert events[1]["error"]["type"] == "step_error"
    assert events[1]["step_iteration"] == 1
    assert events[2]["metadata"] == {"total_steps": 0, "stop_reason": "step_error"}
    assert answer_text(payloads).startswith("Echo: ")
    assert payloads[-1] == "[DONE]"


# ---- failures before and after the first byte ----------------------------------------------


def test_a_failing_first_call_is_a_proper_http_error(reasoning_gateway):
    client = openai.OpenAI(base_url=reasoning_gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="fake-model+error=429",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            extra_headers=REASONING,
        )
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}], extra_headers=REASONING
        )


def test_more_than_one_choice_is_refused(reasoning_gateway):
    client = openai.OpenAI(base_url=reasoning_gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "x"}], n=2, extra_headers=REASONING
        )
    assert (caught.value.body["param"], caught.value.body["code"]) == ("n", "invalid_request")


# ---- MCP servers that are down or die -------------------------------------------------------


def test_servers_down_or_hanging_at_start_up_cost_only_their_tools(start_gateway, demo_mcp, tmp_path):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = write_mcp_config(
            tmp_path / "servers.yaml",
            {"name": "demo", "url": demo_mcp.url + "/mcp"},
            {"name": "ghost", "url": f"http://127.0.0.1:{free_port()}/mcp"},
            {"name": "hang", "url": f"http://127.0.0.1:{silent.getsockname()[1]}/mcp"},
        )
        gateway = start_gateway(mcp_servers_config=config, mcp_connect_timeout_seconds=2)
        listing = wait_for_servers(gateway, {"demo": "up", "ghost": "down", "hang": "down"})
    states = {s["name"]: s for s in listing["servers"]}
    assert "ConnectError" in states["ghost"]["error"]
    assert states["hang"]["error"] == "no answer within 2 s"
    assert {t["server"] for t in listing["data"]} == {"demo"}
    ready = httpx.get(gateway.url + "/health/ready", headers=OPS_HEADERS)
    assert ready.status_code == 200
    assert ready.json()["components"]["mcp_servers"]["status"] == "degraded"
    assert "ghost down" in ready.json()["components"]["mcp_servers"]["detail"]
    events = reasoning_events(stream(gateway, ask("two_tools", marker())))
    results = next(e for e in events if e["type"] == "tool_result")["metadata"]["tool_results"]
    assert [r["success"] for r in results] == [True, True]


def test_a_server_that_dies_mid_run_fails_its_tool_and_the_request_goes_on(start_gateway, logs_dir, tmp_path):
    dying = start_demo_mcp(logs_dir, "demo-dying")
    try:
        config = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": dying.url + "/mcp"}, time_server())
        gateway = start_gateway(mcp_servers_config=config)
        wait_for_servers(gateway, {"demo": "up", "time": "up"})
        body = {**ask("time_then_weather+latency=400", marker()), "stream": True}
        with httpx.stream(
            "POST", gateway.base_url + "/chat/completions", json=body, headers=HEADERS, timeout=60
        ) as response:
            payloads: list = []
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                payloads.append(_decode(line[6:]))
                if [e["type"] for e in reasoning_events(payloads[-1:])] == ["tool_result"] and len(
                    reasoning_events(payloads)
                ) < 6:
                    dying.stop()  # the time tool has answered; the demo server dies before step 2 calls it
        results = [e["metadata"]["tool_results"][0] for e in reasoning_events(payloads) if e["type"] == "tool_result"]
        assert [(r["tool_name"], r["success"]) for r in results] == [("get_current_time", True), ("get_weather", False)]
        assert "demo" in results[1]["error"]
        assert reasoning_events(payloads)[-1]["metadata"]["stop_reason"] == "finished"
        assert answer_text(payloads).startswith("Echo: ")
        wait_for_servers(gateway, {"demo": "down", "time": "up"})
        # Back on its port, the server is reconnected and its tools listed again.
        revived = revive(dying, "demo-revived")
        try:
            listing = wait_for_servers(gateway, {"demo": "up"})
            assert "get_weather" in {t["name"] for t in listing["data"]}
        finally:
            revived.stop()
    finally:
        dying.stop()


def test_disconnect_mid_tool_cancels_the_tool_call(start_gateway, mcp_config, demo_mcp):
    gateway = start_gateway(mcp_servers_config=mcp_config, tool_timeout_seconds=60)
    wait_for_servers(gateway, {"demo": "up"})
    before = len(httpx.get(demo_mcp.url + "/events").json())
    body = {**ask("slow_tool", marker()), "stream": True}
    with httpx.stream(
        "POST", gateway.base_url + "/chat/completions", json=body, headers=HEADERS, timeout=60
    ) as response:
        request_id = response.headers["x-request-id"]
        for line in response.iter_lines():
            if '"tool_execution_start"' in line:
                break
    left_at = time.time()
    events = _wait_for_demo_events(demo_mcp, before, ["started", "cancelled"])
    assert events[-1]["at"] - left_at < 1.0  # the 60 s tool was cancelled, not waited for
    assert gateway.access_line(request_id)["outcome"] == "cancelled"


def _wait_for_demo_events(demo_mcp, before: int, expected: list[str], timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = httpx.get(demo_mcp.url + "/events").json()[before:]
        if [e["event"] for e in events] == expected:
            return events
        time.sleep(0.05)
    raise AssertionError(f"the demo server saw {events}, expected {expected}")


def test_disconnect_during_a_step_cancels_the_llm_call(start_gateway, mcp_config, fake_upstream):
    # Straight to the model: LiteLLM does not pass on the disconnect of a non-streamed call.
    gateway = start_gateway(mcp_servers_config=mcp_config, llm_base_url=fake_upstream.base_url)
    tag, client_id = marker(), f"dc-{uuid.uuid4().hex[:8]}"
    body = {**ask("demo+stall", tag), "stream": True}
    gateway.give_up_after(1.0, body, client_id, HEADERS)
    seq = fake_upstream.request_with(tag)["seq"]
    assert fake_upstream.wait_for_event(seq, "disconnected", timeout=1.5) < 1.5
    assert gateway.access_line(client_request_id=client_id)["outcome"] == "cancelled"


def test_configured_headers_reach_an_http_mcp_server(start_gateway, logs_dir, tmp_path):
    guarded = start_demo_mcp(logs_dir, "demo-guarded", "--token", "s3cret")
    try:
        config = write_mcp_config(
            tmp_path / "servers.yaml",
            {"name": "with_token", "url": guarded.url + "/mcp", "headers": {"Authorization": "Bearer s3cret"}},
            {"name": "without_token", "url": guarded.url + "/mcp"},
        )
        gateway = start_gateway(mcp_servers_config=config)
        listing = wait_for_servers(gateway, {"with_token": "up", "without_token": "down"})
        assert next(s["error"] for s in listing["servers"] if s["name"] == "without_token")  # refused: no token
        assert {t["server"] for t in listing["data"]} == {"with_token"}
    finally:
        guarded.stop()


def test_json_mode_steps_for_upstreams_without_structured_output(start_gateway, mcp_config, fake_upstream):
    gateway = start_gateway(mcp_servers_config=mcp_config, reasoning_step_format="json_object")
    wait_for_servers(gateway, {"demo": "up"})
    tag = marker()
    events = reasoning_events(stream(gateway, ask("weather", tag)))
    assert events[-1]["metadata"] == {"total_steps": 2, "stop_reason": "finished"}
    steps = [r for r in fake_upstream.requests_with(tag) if "response_format" in r["body"]]
    assert {r["body"]["response_format"]["type"] for r in steps} == {"json_object"}


def test_tools_past_the_step_limit_are_refused_and_long_results_cut(start_gateway, mcp_config, fake_upstream):
    gateway = start_gateway(mcp_servers_config=mcp_config, max_tools_per_step=1, tool_result_max_chars=12)
    wait_for_servers(gateway, {"demo": "up"})
    tag = marker()
    events = reasoning_events(stream(gateway, ask("two_tools", tag)))  # get_weather + get_stock_price at once
    weather, stock = next(e for e in events if e["type"] == "tool_result")["metadata"]["tool_results"]
    assert (weather["tool_name"], weather["success"], weather["truncated"]) == ("get_weather", True, True)
    assert len(weather["result"]) == 12 + len(" …[truncated]")
    assert weather["result"].endswith(" …[truncated]")
    assert (stock["tool_name"], stock["success"]) == ("get_stock_price", False)
    assert "MAX_TOOLS_PER_STEP" in stock["error"]
    assert "truncated" not in stock
    # The model is shown the same cut result and the refusal, and can ask again.
    next_step = [r for r in fake_upstream.requests_with(tag) if "response_format" in r["body"]][1]
    fed_back = next_step["body"]["messages"][-1]["content"]
    assert weather["result"] in fed_back
    assert "MAX_TOOLS_PER_STEP" in fed_back
