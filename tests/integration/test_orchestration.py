"""The orchestration path through the real stack: openai SDK → gateway → LiteLLM proxy → fake
model playing the planner (`+orchestrate=<scenario>`) and the reasoning agent of each task,
with tools on our demo MCP server and the third-party `mcp-server-time`."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import TOKEN, time_server, write_mcp_config
from tests.support.mcp import wait_for_servers

ORCHESTRATION = {"X-Routing-Mode": "orchestration"}
HEADERS = {"Authorization": f"Bearer {TOKEN}", **ORCHESTRATION}


@pytest.fixture(scope="module")
def mcp_config(demo_mcp, tmp_path_factory) -> Path:
    return write_mcp_config(
        tmp_path_factory.mktemp("mcp") / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"}, time_server()
    )


@pytest.fixture(scope="module")
def orch_gateway(start_gateway, mcp_config):
    gateway = start_gateway(
        mcp_servers_config=mcp_config,
        orchestration_enabled="true",
        tool_timeout_seconds=5,
        max_reasoning_iterations=4,
        routing_classifier_model="fake-model+choose=orchestration",  # only `auto` requests ask it
    )
    wait_for_servers(gateway, {"demo": "up", "time": "up"})
    return gateway


@pytest.fixture
def client(orch_gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=orch_gateway.base_url, api_key=TOKEN, max_retries=0)


def model(scenario: str, *directives: str) -> tuple[str, str]:
    """A fake model name playing `scenario`, tagged so every LLM call of the request can be found."""
    tag = uuid.uuid4().hex[:12]
    return "+".join(["fake-model", f"orchestrate={scenario}", *directives, f"tag={tag}"]), tag


def ask(client: openai.OpenAI, name: str, question: str = "Plan this for me.", **fields):
    return client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": question}], extra_headers=ORCHESTRATION, **fields
    )


def streamed(client: openai.OpenAI, name: str, **fields) -> tuple[list[dict], str, str, list[float]]:
    """(events, answer, thinking, the time each event arrived) of a streamed orchestration."""
    events, answer, thinking, arrived = [], [], [], []
    for chunk in ask(client, name, stream=True, **fields):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if getattr(delta, "orchestration_event", None):
            events.append(delta.orchestration_event)
            arrived.append(time.monotonic())
            thinking.append(delta.reasoning_content)
        answer.append(delta.content or "")
    return events, "".join(answer), "".join(thinking), arrived


def types(events: list[dict]) -> list[tuple[str, str | None]]:
    return [(e["type"], e.get("task_id")) for e in events if e["type"] != "task_update"]


# ---- the scenarios, streamed and not -------------------------------------------------------


def test_two_independent_tasks_run_side_by_side_and_the_answer_uses_both(client):
    # Every model call takes 300 ms: one task (step, step, answer) takes about 0.9 s.
    name, _ = model("parallel", "latency=300")
    events, answer, thinking, arrived = streamed(client, name)

    assert events[0]["type"] == "plan"
    assert [t["id"] for t in events[0]["metadata"]["tasks"]] == ["t1", "t2"]
    assert types(events)[:3] == [("plan", None), ("task_start", "t1"), ("task_start", "t2")]
    results = {e["task_id"]: e for e in events if e["type"] == "task_result"}
    assert all(r["metadata"]["success"] for r in results.values())
    assert events[-1] == {
        "type": "orchestration_complete",
        "metadata": {"total_tasks": 2, "failed_tasks": 0, "skipped_tasks": 0, "stop_reason": "finished"},
    }
    # Overlap: both started before either ended, and their run times add up to more than
    # the time from the first start to the last result.
    first_start = arrived[types(events).index(("task_start", "t1"))]
    last_result = max(arrived[i] for i, e in enumerate(events) if e["type"] == "task_result")
    run_times = [r["metadata"]["execution_time_ms"] for r in results.values()]
    wall_ms = (last_result - first_start) * 1000
    print(f"\nparallel: task run times {run_times} ms, wall {wall_ms:.0f} ms")
    assert sum(run_times) > wall_ms * 1.5
    # Each task's nested reasoning is its progress: the tools it called.
    updates = [e for e in events if e["type"] == "task_update"]
    assert {e["task_id"] for e in updates} == {"t1", "t2"}
    assert any("get_weather" in e["metadata"]["message"] for e in updates if e["task_id"] == "t1")
    assert any("get_stock_price" in e["metadata"]["message"] for e in updates if e["task_id"] == "t2")
    # The answer is written from both results (the fake joins the results it is given).
    assert answer == f"{results['t1']['metadata']['result']} {results['t2']['metadata']['result']}"
    assert "AAPL" in answer
    assert "Paris" in answer
    assert "**Plan**: 2 task(s)" in thinking
    assert "✓ Task t2 done" in thinking


def test_the_whole_answer_lists_the_events(client, orch_gateway, fake_upstream):
    name, tag = model("parallel")
    raw = client.chat.completions.with_raw_response.create(
        model=name, messages=[{"role": "user", "content": "Plan this."}], extra_headers=ORCHESTRATION
    )
    completion = raw.parse()
    assert (raw.headers["x-routing-path"], raw.headers["x-routing-reason"]) == ("orchestration", "header_orchestration")
    message = completion.choices[0].message
    events = message.orchestration_events
    assert sorted(types(events)) == sorted(
        [
            ("plan", None),
            ("task_start", "t1"),
            ("task_start", "t2"),
            ("task_result", "t1"),
            ("task_result", "t2"),
            ("orchestration_complete", None),
        ]
    )
    assert "AAPL" in message.content
    assert "Paris" in message.content
    assert "✓ Task t1 done" in message.reasoning_content
    # Usage over every call: the plan, two steps and an answer per task, the answer.
    calls = fake_upstream.requests_with(tag)
    assert len(calls) == 8
    # The fake counts (words + 3) per message.
    expected_prompt = sum(len(str(m.get("content") or "").split()) + 3 for r in calls for m in r["body"]["messages"])
    assert completion.usage.prompt_tokens == expected_prompt
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    row = orch_gateway.audit_row(raw.headers["x-request-id"])
    print(f"\naudit: { ({k: row[k] for k in ('route_path', 'orchestration_tasks', 'reasoning_steps', 'tool_calls')}) }")
    assert (row["route_path"], row["route_reason"], row["orchestration_tasks"]) == (
        "orchestration",
        "header_orchestration",
        2,
    )
    assert (row["reasoning_steps"], row["tool_calls"]) == (4, 2)
    assert row["prompt_tokens"] == completion.usage.prompt_tokens


@pytest.mark.parametrize("stream", [True, False])
def test_a_dependant_task_sees_the_result_it_depends_on(client, fake_upstream, stream):
    name, tag = model("chain")
    if stream:
        events, answer, _, _ = streamed(client, name)
    else:
        message = ask(client, name).choices[0].message
        events, answer = message.orchestration_events, message.content

    assert types(events) == [
        ("plan", None),
        ("task_start", "t1"),
        ("task_result", "t1"),
        ("task_start", "t2"),
        ("task_result", "t2"),
        ("orchestration_complete", None),
    ]
    first = next(e for e in events if e["type"] == "task_result" and e["task_id"] == "t1")["metadata"]["result"]
    assert "Tokyo" in first
    t2_calls = [r for r in fake_upstream.requests_with(tag) if "What time is it in Tokyo?" in str(r["body"])]
    assert t2_calls
    assert all(f"From task t1 (reasoning): {first}" in str(r["body"]) for r in t2_calls)
    assert "Tokyo" in answer


def test_a_failing_task_is_reported_and_its_dependant_skipped(client):
    for stream in (True, False):
        name, _ = model("failing")
        if stream:
            events, answer, thinking, _ = streamed(client, name)
        else:
            message = ask(client, name).choices[0].message
            events, answer, thinking = message.orchestration_events, message.content, message.reasoning_content
        results = {e["task_id"]: e["metadata"] for e in events if e["type"] == "task_result"}
        assert results["t1"]["success"] is True
        assert results["t2"]["success"] is False
        assert "valid step" in results["t2"]["error"]
        skipped = next(e for e in events if e["type"] == "task_skipped")
        assert (skipped["task_id"], skipped["metadata"]["failed_dependencies"]) == ("t3", ["t2"])
        assert events[-1]["metadata"] == {
            "total_tasks": 3,
            "failed_tasks": 1,
            "skipped_tasks": 1,
            "stop_reason": "finished",
        }
        assert answer == results["t1"]["result"]  # synthesised from what succeeded
        assert "✗ Task t2 failed" in thinking
        assert "Task t3 skipped" in thinking


def test_an_invalid_plan_is_retried_once_then_fails_like_a_step(client, fake_upstream):
    name, tag = model("invalid")
    events, answer, _, _ = streamed(client, name)
    assert [e["type"] for e in events] == ["error", "orchestration_complete"]
    assert events[0]["error"]["type"] == "step_error"
    assert "cycle: a → b → a" in events[0]["error"]["message"]
    assert events[1]["metadata"]["stop_reason"] == "step_error"
    plan_calls = [r for r in fake_upstream.requests_with(tag) if "response_format" in r["body"]]
    assert len(plan_calls) == 2
    retry = plan_calls[1]["body"]["messages"][-1]["content"]
    assert "unknown agent 'wizard' (available: reasoning)" in retry
    assert answer == "Echo: Plan this for me."  # answered without tasks

    message = ask(client, model("invalid")[0]).choices[0].message
    assert [e["type"] for e in message.orchestration_events] == ["error", "orchestration_complete"]


def test_a_plan_fixed_on_its_retry_runs_and_the_stream_ends_with_usage_when_asked(client):
    chunks = list(ask(client, model("invalid_once")[0], stream=True, stream_options={"include_usage": True}))
    events = [c.choices[0].delta.orchestration_event for c in chunks if c.choices and c.choices[0].delta.model_extra]
    assert types(events)[0] == ("plan", None)
    assert events[-1]["metadata"]["stop_reason"] == "finished"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens > 0
    assert len({c.id for c in chunks}) == 1


# ---- errors, routing, cancellation, timeouts -------------------------------------------------


def test_a_failing_planner_call_is_a_proper_http_error(client):
    with pytest.raises(openai.RateLimitError):
        ask(client, "fake-model+error=429", stream=True)
    with pytest.raises(openai.NotFoundError):
        ask(client, "no-such-model")


def test_orchestrate_models_and_the_routes_view(orch_gateway):
    http = httpx.Client(base_url=orch_gateway.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    ids = [m["id"] for m in http.get("/models").json()["data"]]
    assert "orchestrate/gpt-4o" in ids
    assert "reasoning/gpt-4o" in ids
    routes = http.get("/routes").json()
    assert routes["paths"]["orchestration"] == "enabled"
    assert routes["orchestration"]["agents"] == ["reasoning"]
    name, _ = model("parallel")
    response = http.post(
        "/chat/completions", json={"model": f"orchestrate/{name}", "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 200, response.text
    assert (response.headers["x-routing-path"], response.headers["x-routing-reason"]) == (
        "orchestration",
        "model_orchestration",
    )
    assert response.json()["model"] == name  # the prefix is stripped before the upstream sees it


def test_the_classifier_can_choose_orchestration(orch_gateway):
    client = openai.OpenAI(base_url=orch_gateway.base_url, api_key=TOKEN, max_retries=0)
    name, _ = model("parallel")
    raw = client.chat.completions.with_raw_response.create(
        model=name, messages=[{"role": "user", "content": "Plan this."}], extra_headers={"X-Routing-Mode": "auto"}
    )
    assert (raw.headers["x-routing-path"], raw.headers["x-routing-reason"]) == ("orchestration", "auto_orchestration")
    assert len(types(raw.parse().choices[0].message.orchestration_events)) == 6


def test_a_task_over_its_time_limit_fails_alone(start_gateway, mcp_config, demo_mcp):
    gateway = start_gateway(
        mcp_servers_config=mcp_config,
        orchestration_enabled="true",
        orchestration_task_timeout_seconds=1,
        tool_timeout_seconds=60,
    )
    wait_for_servers(gateway, {"demo": "up"})
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    started = time.monotonic()
    events, answer, _, _ = streamed(client, model("slow")[0])
    took = time.monotonic() - started
    results = [e["metadata"] for e in events if e["type"] == "task_result"]
    assert [(r["success"], r["error"]) for r in results] == [(False, "timed out after 1 s")] * 2
    assert events[-1]["metadata"]["failed_tasks"] == 2
    assert took < 10  # the 30 s tools were cancelled with their tasks
    assert answer == "Echo: Plan this for me."


def test_disconnect_cancels_every_running_task(start_gateway, mcp_config, demo_mcp):
    gateway = start_gateway(mcp_servers_config=mcp_config, orchestration_enabled="true", tool_timeout_seconds=60)
    wait_for_servers(gateway, {"demo": "up"})
    before = len(httpx.get(demo_mcp.url + "/events").json())
    body = {"model": model("slow")[0], "messages": [{"role": "user", "content": "x"}], "stream": True}
    calling = 0
    with httpx.stream(
        "POST", gateway.base_url + "/chat/completions", json=body, headers=HEADERS, timeout=60
    ) as response:
        request_id = response.headers["x-request-id"]
        lines = response.iter_lines()  # held: a dropped iterator closes the response
        for line in lines:
            calling += "Calling slow_operation" in line
            if calling == 2:  # both tasks have asked for their 30 s tool...
                break
        # ...and the demo server runs both (a call asked for may not have reached it yet).
        wait_for_demo_events(demo_mcp, before, ["started", "started"])
    left_at = time.time()
    events = wait_for_demo_events(demo_mcp, before, ["started", "started", "cancelled", "cancelled"])
    print(f"\ncancelled {events[-1]['at'] - left_at:.3f} s after the client left")
    assert events[-1]["at"] - left_at < 1.0
    assert gateway.access_line(request_id)["outcome"] == "cancelled"


def test_disconnect_while_planning_cancels_the_planners_llm_call(start_gateway, mcp_config, fake_upstream):
    # Straight to the model: LiteLLM does not pass on the disconnect of a non-streamed call.
    gateway = start_gateway(
        mcp_servers_config=mcp_config, orchestration_enabled="true", llm_base_url=fake_upstream.base_url
    )
    name, tag = model("parallel", "stall")
    client_id = f"dc-{tag}"
    body = {"model": name, "messages": [{"role": "user", "content": "x"}], "stream": True}
    gateway.give_up_after(1.0, body, client_id, HEADERS)
    seq = fake_upstream.request_with(tag)["seq"]
    waited = fake_upstream.wait_for_event(seq, "disconnected", timeout=1.5)
    print(f"\nplanner call cancelled {waited:.3f} s after the client left")
    assert gateway.access_line(client_request_id=client_id)["outcome"] == "cancelled"


def wait_for_demo_events(demo_mcp, before: int, expected: list[str], timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = httpx.get(demo_mcp.url + "/events").json()[before:]
        if sorted(e["event"] for e in events) == sorted(expected):
            return events
        time.sleep(0.05)
    raise AssertionError(f"the demo server saw {events}, expected {expected}")


def test_disabled_orchestration_answers_501_as_before(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    for name in ("fake-model", "fake-model+orchestrate=parallel"):
        with pytest.raises(openai.APIStatusError) as caught:
            ask(client, name)
        assert caught.value.status_code == 501
        assert caught.value.response.headers["x-should-retry"] == "false"
        assert caught.value.body["code"] == "orchestration_not_implemented"
    models = httpx.get(gateway.base_url + "/models", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert not [m["id"] for m in models["data"] if m["id"].startswith("orchestrate/")]
    routes = httpx.get(gateway.base_url + "/routes", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert routes["paths"]["orchestration"] == "not_implemented"
    assert "orchestration" not in routes
