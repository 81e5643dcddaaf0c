"""An orchestration request's span tree, read back from a real Phoenix: the orchestration AGENT
span → one span per task → the nested reasoning agent's steps, tools and LLM calls → LiteLLM's
own spans under each LLM call, all in one trace.

Phoenix, a LiteLLM proxy exporting to it and a gateway with ORCHESTRATION_ENABLED=true exporting
to it all run as real processes; only the model is the fake (its `parallel` plan: two reasoning
tasks, the weather in Paris and the AAPL price, on the demo MCP server's tools).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import PHOENIX_PROJECT, TOKEN
from tests.e2e.test_phoenix_trace import SERVER_SPAN, by_id, litellm_children, metadata
from tests.support.mcp import wait_for_servers

pytestmark = [pytest.mark.phoenix, pytest.mark.timeout(600)]

TASKS = {"t1": "get_weather", "t2": "get_stock_price"}
# The plan, each task's two steps and its answer, the final answer.
LLM_CALLS = 1 + len(TASKS) * 3 + 1


@pytest.fixture(scope="module")
def orchestrating_gateway(start_traced_gateway):
    gateway = start_traced_gateway(orchestration_enabled="true")
    wait_for_servers(gateway, {"demo": "up"})
    return gateway


def gateway_llm_calls(spans: list[dict]) -> list[dict]:
    """Our LLM spans (LiteLLM's are LLM spans too, but carry no gateway.component)."""
    return [s for s in spans if s["span_kind"] == "LLM" and "gateway.component" in s["attributes"]]


def test_an_orchestration_is_one_tree_from_the_agent_span_through_tasks_and_reasoning_into_litellm(
    orchestrating_gateway, phoenix
):
    session = f"session-{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        orchestrating_gateway.url + "/v1/chat/completions",
        json={
            "model": f"fake-model+orchestrate=parallel+tag={uuid.uuid4().hex[:8]}",
            "messages": [{"role": "user", "content": "Weather in Paris and the AAPL price?"}],
            "stream": True,
        },
        headers={"Authorization": f"Bearer {TOKEN}", "X-Routing-Mode": "orchestration", "X-Session-ID": session},
        timeout=60,
    )
    assert response.status_code == 200
    assert response.text.rstrip().endswith("data: [DONE]")
    trace_id = response.headers["x-trace-id"]

    def complete(spans: list[dict]) -> bool:
        calls = gateway_llm_calls(spans)
        return (
            any(s["name"] == SERVER_SPAN for s in spans)
            and len(calls) == LLM_CALLS
            and all(litellm_children(spans, s["context"]["span_id"]) for s in calls)
        )

    spans = phoenix.wait_for_trace(PHOENIX_PROJECT, trace_id, complete)
    assert {s["context"]["trace_id"] for s in spans} == {trace_id}  # one trace, LiteLLM's spans and ours
    ids = by_id(spans)
    named = {s["name"]: s for s in spans}

    def parent(span: dict) -> dict:
        return ids[span["parent_id"]]

    server, orchestration = named[SERVER_SPAN], named["orchestration"]
    assert server["parent_id"] is None
    assert server["attributes"]["gateway.routing.path"] == "orchestration"
    assert orchestration["span_kind"] == "AGENT"
    assert orchestration["parent_id"] == server["context"]["span_id"]
    assert orchestration["attributes"]["gateway.orchestration.tasks"] == len(TASKS)

    # The plan and the final answer: the orchestrator's own LLM calls, right under its span.
    orchestrator_calls = [s for s in gateway_llm_calls(spans) if metadata(s)["component"] == "orchestrator"]
    assert sorted(s["name"] for s in orchestrator_calls) == ["plan", "synthesis"]
    assert {parent(s)["name"] for s in orchestrator_calls} == {"orchestration"}

    for task_id, tool_name in TASKS.items():
        task = named[f"task {task_id}"]
        assert task["span_kind"] == "AGENT"
        assert task["parent_id"] == orchestration["context"]["span_id"]
        assert task["attributes"]["gateway.orchestration.agent"] == "reasoning"
        assert task["attributes"]["gateway.orchestration.task_success"] is True
        (agent,) = [s for s in spans if s["name"] == "reasoning agent" and s["parent_id"] == task["context"]["span_id"]]
        assert agent["span_kind"] == "AGENT"
        # The task's tool call sits in a step of that task's reasoning agent.
        tool = named[f"tool {tool_name}"]
        assert tool["span_kind"] == "TOOL"
        assert parent(tool)["name"] == "step 1"
        assert parent(parent(tool)) is agent

        # Each LLM call of the task (its steps, its answer) is under its reasoning agent.
        def under_agent(span: dict, agent_id: str = agent["context"]["span_id"]) -> bool:
            while span["parent_id"] is not None:
                if span["parent_id"] == agent_id:
                    return True
                span = parent(span)
            return False

        task_calls = [s for s in gateway_llm_calls(spans) if under_agent(s)]
        assert sorted(s["name"] for s in task_calls) == ["reasoning step 1", "reasoning step 2", "synthesis"]
        assert {metadata(s)["component"] for s in task_calls} == {"reasoning-agent"}

    # LiteLLM's spans hang under every one of our LLM calls, with the component we sent.
    for call in gateway_llm_calls(spans):
        assert call["attributes"]["session.id"] == session
        (litellm_root,) = litellm_children(spans, call["context"]["span_id"])
        assert metadata(litellm_root)["requester_metadata"]["component"] == metadata(call)["component"]
    print(
        f"orchestration trace {trace_id}: {len(spans)} spans, {len(gateway_llm_calls(spans))} LLM calls of ours, "
        f"{sum(len(litellm_children(spans, c['context']['span_id'])) for c in gateway_llm_calls(spans))} LiteLLM roots"
    )
