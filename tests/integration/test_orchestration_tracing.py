"""The orchestration's span tree from a real request: a gateway served in-process with an
in-memory exporter, calling the fake model directly, with tools on the demo MCP server."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from opentelemetry.trace import format_span_id

from tests.conftest import write_mcp_config
from tests.support.traced_app import TOKEN, serve_traced, traced_settings


def parent_of(span) -> str | None:
    return format_span_id(span.parent.span_id) if span.parent else None


def span_id(span) -> str:
    return format_span_id(span.context.span_id)


async def test_orchestration_agent_span_holds_the_plan_each_task_and_its_reasoning(fake_upstream, demo_mcp, tmp_path):
    config = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"})
    settings = traced_settings(fake_upstream.base_url, mcp_servers_config=str(config), orchestration_enabled=True)
    async with (
        serve_traced(settings) as gateway,
        httpx.AsyncClient(base_url=gateway.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client,
    ):
        for _ in range(200):  # the MCP server connects in the background
            if gateway.services.mcp.tools():
                break
            await asyncio.sleep(0.05)
        body = {
            "model": f"fake-model+orchestrate=parallel+tag={uuid.uuid4().hex[:8]}",
            "messages": [{"role": "user", "content": "Weather and a price."}],
        }
        response = await client.post("/v1/chat/completions", json=body, headers={"X-Routing-Mode": "orchestration"})
        assert response.status_code == 200, response.text
        spans = await gateway.spans(response.headers["x-trace-id"])

    ids = {span_id(s): s for s in spans}
    named = {s.name: s for s in spans}
    orchestration = named["orchestration"]
    assert orchestration.attributes["openinference.span.kind"] == "AGENT"
    assert parent_of(orchestration) == span_id(named["POST /v1/chat/completions"])
    assert orchestration.attributes["gateway.orchestration.tasks"] == 2

    plan = named["plan"]
    assert (parent_of(plan), plan.attributes["gateway.component"]) == (span_id(orchestration), "orchestrator")
    answers = [s for s in spans if s.name == "synthesis" and s.attributes["gateway.component"] == "orchestrator"]
    assert [parent_of(s) for s in answers] == [span_id(orchestration)]

    for task_id, tool in (("t1", "get_weather"), ("t2", "get_stock_price")):
        task = named[f"task {task_id}"]
        assert parent_of(task) == span_id(orchestration)
        assert task.attributes["openinference.span.kind"] == "AGENT"
        assert task.attributes["gateway.orchestration.task_success"] is True
        agents = [s for s in spans if s.name == "reasoning agent" and parent_of(s) == span_id(task)]
        assert len(agents) == 1
        tool_span = next(s for s in spans if s.name == f"tool {tool}")
        # tool → step 1 → that task's reasoning agent
        assert parent_of(ids[parent_of(tool_span)]) == span_id(agents[0])
