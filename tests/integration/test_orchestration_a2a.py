"""Orchestration with remote A2A agents, all real processes: openai SDK → gateway → LiteLLM →
fake model playing the planner (`+orchestrate=remote_*`), the built-in reasoning agent on the
demo MCP server, and two A2A servers: our demo agent (scripts/demo_a2a_agent.py, a2a-sdk)
and a third-party one (a pydantic-ai agent served by fasta2a, tests/support/pydantic_a2a_agent.py)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from opentelemetry.trace import format_span_id

from tests.conftest import OPS_TOKEN, TOKEN, write_mcp_config
from tests.integration.test_orchestration import ORCHESTRATION, ask, model, streamed, types
from tests.support.mcp import wait_for_servers
from tests.support.otlp_sink import OtlpSink
from tests.support.processes import REPO, ServerProcess, free_port
from tests.support.traced_app import TOKEN as TRACED_TOKEN
from tests.support.traced_app import serve_traced, traced_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}  # readiness details are for operators
HEADERS = {**AUTH, **ORCHESTRATION}
CARD = "/.well-known/agent-card.json"


def start_a2a(logs_dir: Path, name: str, script: Path, *extra: str) -> ServerProcess:
    port = free_port()
    command = [sys.executable, str(script), "--port", str(port), *extra]
    return ServerProcess(name, command, port, logs_dir / f"{name}.log").start(CARD)


@pytest.fixture(scope="module")
def demo_a2a(logs_dir: Path):
    process = start_a2a(logs_dir, "demo-a2a", REPO / "scripts" / "demo_a2a_agent.py")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def notes_ai(logs_dir: Path):
    process = start_a2a(logs_dir, "notes-ai", REPO / "tests" / "support" / "pydantic_a2a_agent.py")
    yield process
    process.stop()


def write_agents(path: Path, *agents: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({"agents": list(agents)}))
    return path


@pytest.fixture(scope="module")
def mcp_config(demo_mcp, tmp_path_factory) -> Path:
    return write_mcp_config(
        tmp_path_factory.mktemp("mcp") / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"}
    )


@pytest.fixture(scope="module")
def agents_config(demo_a2a, notes_ai, tmp_path_factory) -> Path:
    return write_agents(
        tmp_path_factory.mktemp("agents") / "agents.yaml",
        {"name": "demo-a2a", "url": demo_a2a.url + CARD},
        {"name": "notes-ai", "url": notes_ai.url + CARD, "headers": {"X-Demo": "1"}},
    )


def wait_for_agents(gateway, states: dict[str, str], timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        listing = httpx.get(gateway.base_url + "/agents", headers=AUTH).json()["data"]
        seen = {a["name"]: a["status"] for a in listing}
        if all(seen.get(name) == state for name, state in states.items()):
            return listing
        if time.monotonic() > deadline:
            raise AssertionError(f"agents never reached {states}: {listing}")
        time.sleep(0.2)


def start_orchestrating(start_gateway, mcp_config: Path, agents: Path, states: dict[str, str], **overrides):
    gateway = start_gateway(
        mcp_servers_config=mcp_config,
        orchestration_enabled="true",
        orchestration_agents_config=agents,
        tool_timeout_seconds=5,
        max_reasoning_iterations=4,
        **overrides,
    )
    wait_for_servers(gateway, {"demo": "up"})
    wait_for_agents(gateway, states)
    return gateway


@pytest.fixture(scope="module")
def a2a_gateway(start_gateway, mcp_config, agents_config):
    return start_orchestrating(start_gateway, mcp_config, agents_config, {"demo-a2a": "up", "notes-ai": "up"})


@pytest.fixture
def client(a2a_gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=a2a_gateway.base_url, api_key=TOKEN, max_retries=0)


def debug(agent: ServerProcess, what: str) -> list[dict]:
    return httpx.get(f"{agent.url}/debug/{what}").json()


def run(client: openai.OpenAI, name: str, stream: bool) -> tuple[list[dict], str]:
    if stream:
        events, answer, _, _ = streamed(client, name)
        return events, answer
    message = ask(client, name).choices[0].message
    return message.orchestration_events, message.content


def results(events: list[dict]) -> dict[str, dict]:
    return {e["task_id"]: e["metadata"] for e in events if e["type"] == "task_result"}


# ---- the agents' view --------------------------------------------------------------------


def test_agents_lists_the_builtin_and_the_remote_agents_with_their_cards(a2a_gateway):
    listing = {a["name"]: a for a in httpx.get(a2a_gateway.base_url + "/agents", headers=AUTH).json()["data"]}
    assert list(listing) == ["reasoning", "demo-a2a", "notes-ai"]
    assert (listing["reasoning"]["kind"], listing["reasoning"]["status"]) == ("builtin", "up")
    demo = listing["demo-a2a"]
    assert (demo["kind"], demo["status"], demo["streaming"], demo["last_error"]) == ("a2a", "up", True, None)
    assert [s["id"] for s in demo["skills"]] == ["unit_converter", "research_notes"]
    assert "converts units" in demo["description"]
    assert listing["notes-ai"]["description"] == "a pydantic-ai notes agent"
    ready = httpx.get(a2a_gateway.url + "/health/ready", headers=OPS).json()
    print(f"\nready: {ready['components']['agents']}")
    assert ready["components"]["agents"]["status"] == "ok"


# ---- the scenarios, streamed and not -----------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_a_local_and_a_remote_task_run_side_by_side(client, demo_a2a, stream):
    # Every model call takes 300 ms: the local task (step, step, answer) about 0.9 s.
    name, _ = model("remote_parallel", "latency=300")
    if stream:
        events, answer, _, arrived = streamed(client, name)
        at = {(e["type"], e.get("task_id")): arrived[i] for i, e in enumerate(events)}
        # Overlap: the remote task started and ended while the local one ran.
        assert (
            at[("task_start", "t1")] <= at[("task_start", "t2")] < at[("task_result", "t2")] < at[("task_result", "t1")]
        )
        print(
            f"\nremote task t2 ran from +{(at[('task_start', 't2')] - at[('task_start', 't1')]) * 1000:.0f} ms to "
            f"+{(at[('task_result', 't2')] - at[('task_start', 't1')]) * 1000:.0f} ms of local t1's "
            f"{(at[('task_result', 't1')] - at[('task_start', 't1')]) * 1000:.0f} ms"
        )
    else:
        events, answer = run(client, name, stream=False)
    done = results(events)
    assert done["t2"] == {**done["t2"], "success": True, "result": "10 km = 6.2137 mi"}
    assert done["t1"]["success"] is True
    updates = [e["metadata"]["message"] for e in events if e["type"] == "task_update" and e["task_id"] == "t2"]
    assert updates == ["Reading the request", "Using skill unit_converter"]  # the A2A status updates
    assert answer == f"{done['t1']['result']} 10 km = 6.2137 mi"


@pytest.mark.parametrize("stream", [True, False])
def test_a_dependency_chain_through_the_remote_agent(client, demo_a2a, fake_upstream, stream):
    name, tag = model("remote_chain")
    events, answer = run(client, name, stream)
    assert types(events) == [
        ("plan", None),
        ("task_start", "t1"),
        ("task_result", "t1"),
        ("task_start", "t2"),
        ("task_result", "t2"),
        ("task_start", "t3"),
        ("task_result", "t3"),
        ("orchestration_complete", None),
    ]
    done = results(events)
    # The remote agent got t1's result with its instruction, and t3 got the remote result.
    given = next(m["text"] for m in reversed(debug(demo_a2a, "messages")) if "notes on Tokyo" in m["text"])
    assert f"- From task t1 (reasoning): {done['t1']['result']}" in given
    assert done["t2"]["result"].startswith("Tokyo is the capital of Japan")
    t3_calls = [r for r in fake_upstream.requests_with(tag) if "What time is it in Tokyo?" in str(r["body"])]
    assert t3_calls
    assert all(f"From task t2 (demo-a2a): {done['t2']['result']}" in str(r["body"]) for r in t3_calls)
    assert "Tokyo" in answer


@pytest.mark.parametrize("stream", [True, False])
def test_a_failed_remote_task_is_reported_and_its_dependant_skipped(client, stream):
    events, answer = run(client, model("remote_failing")[0], stream)
    done = results(events)
    assert done["t1"]["success"] is False
    assert done["t1"]["error"] == "the remote agent's task failed: The demo agent was asked to fail"
    skipped = next(e for e in events if e["type"] == "task_skipped")
    assert (skipped["task_id"], skipped["metadata"]["failed_dependencies"]) == ("t2", ["t1"])
    assert answer == "Echo: Plan this for me."  # nothing succeeded to answer from


@pytest.mark.parametrize("stream", [True, False])
def test_a_third_party_a2a_server_runs_a_task(client, notes_ai, stream):
    events, answer = run(client, model("third_party")[0], stream)
    done = results(events)
    assert done["t1"] == {**done["t1"], "success": True}
    assert done["t1"]["result"] == "Notes-AI: A2A lets agents hand each other tasks over JSON-RPC."
    assert answer == done["t1"]["result"]


def test_an_agent_that_cannot_stream_gets_the_task_sent(start_gateway, mcp_config, logs_dir, tmp_path):
    agent = start_a2a(logs_dir, "demo-a2a-unstreamed", REPO / "scripts" / "demo_a2a_agent.py", "--no-streaming")
    try:
        agents = write_agents(tmp_path / "agents.yaml", {"name": "demo-a2a", "url": agent.url + CARD})
        gateway = start_orchestrating(start_gateway, mcp_config, agents, {"demo-a2a": "up"})
        listing = {a["name"]: a for a in httpx.get(gateway.base_url + "/agents", headers=AUTH).json()["data"]}
        assert listing["demo-a2a"]["streaming"] is False
        client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
        events, answer = run(client, model("remote_parallel")[0], stream=True)
        assert results(events)["t2"]["result"] == "10 km = 6.2137 mi"
        assert answer.endswith("10 km = 6.2137 mi")
        assert [r["method"] for r in debug(agent, "requests")] == ["SendMessage"]
    finally:
        agent.stop()


def test_the_routes_view_lists_the_agents_up(a2a_gateway):
    routes = httpx.get(a2a_gateway.base_url + "/routes", headers=AUTH).json()
    assert routes["orchestration"]["agents"] == ["reasoning", "demo-a2a", "notes-ai"]


# ---- a hanging agent, cancellation, a down agent, the trace ------------------------------------


def test_a_hanging_remote_agent_costs_only_its_task(start_gateway, mcp_config, agents_config, demo_a2a):
    gateway = start_orchestrating(
        start_gateway, mcp_config, agents_config, {"demo-a2a": "up"}, orchestration_task_timeout_seconds=2
    )
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    cancels_before = len(debug(demo_a2a, "cancels"))
    started = time.monotonic()
    events, answer, _, _ = streamed(client, model("remote_hang")[0])
    took = time.monotonic() - started
    done = results(events)
    print(
        f"\nhanging remote task: {done['t2']['error']} ({done['t2']['execution_time_ms']:.0f} ms); request {took:.2f} s"
    )
    assert done["t1"]["success"] is True
    assert (done["t2"]["success"], done["t2"]["error"]) == (False, "timed out after 2 s")
    assert events[-1]["metadata"]["failed_tasks"] == 1
    assert answer == done["t1"]["result"]
    # The timeout cancelled the remote task: its tasks/cancel reached the agent.
    deadline = time.monotonic() + 3
    while len(debug(demo_a2a, "cancels")) == cancels_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(debug(demo_a2a, "cancels")) == cancels_before + 1


def test_disconnect_sends_the_remote_agent_tasks_cancel_within_a_second(a2a_gateway, demo_a2a):
    cancels_before = len(debug(demo_a2a, "cancels"))
    body = {"model": model("remote_hang")[0], "messages": [{"role": "user", "content": "x"}], "stream": True}
    with httpx.stream("POST", a2a_gateway.base_url + "/chat/completions", json=body, headers=HEADERS, timeout=60) as r:
        request_id = r.headers["x-request-id"]
        lines = r.iter_lines()  # held: a dropped iterator closes the response
        for line in lines:
            if "Waiting (hang mode)" in line:  # the remote task is running and waiting
                break
    left_at = time.time()
    deadline = time.monotonic() + 3
    while len(cancels := debug(demo_a2a, "cancels")) == cancels_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(cancels) == cancels_before + 1
    print(f"\nremote tasks/cancel arrived {cancels[-1]['at'] - left_at:.3f} s after the client left")
    assert cancels[-1]["at"] - left_at < 1.0
    assert a2a_gateway.access_line(request_id)["outcome"] == "cancelled"


def test_a_down_agent_is_reported_and_left_out_of_the_plan(start_gateway, mcp_config, fake_upstream, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}{CARD}"
    agents = write_agents(
        tmp_path / "agents.yaml", {"name": "demo-a2a", "url": dead}, {"name": "off", "url": dead, "enabled": False}
    )
    gateway = start_orchestrating(start_gateway, mcp_config, agents, {"demo-a2a": "down", "off": "disabled"})
    listing = {a["name"]: a for a in httpx.get(gateway.base_url + "/agents", headers=AUTH).json()["data"]}
    print(f"\ndown agent: {listing['demo-a2a']['last_error']}")
    assert "ConnectError" in listing["demo-a2a"]["last_error"]
    ready = httpx.get(gateway.url + "/health/ready", headers=OPS)
    assert ready.status_code == 200  # not critical: the built-in agent still plans
    assert ready.json()["components"]["agents"]["status"] == "down"
    assert "demo-a2a down" in ready.json()["components"]["agents"]["detail"]
    # The planner is not offered it, so a plan naming it is invalid (and retried once).
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    name, tag = model("remote_parallel")
    events, _, _, _ = streamed(client, name)
    assert [e["type"] for e in events] == ["error", "orchestration_complete"]
    assert "unknown agent 'demo-a2a' (available: reasoning)" in events[0]["error"]["message"]
    plan_prompt = fake_upstream.requests_with(tag)[0]["body"]["messages"][0]["content"]
    assert "- reasoning:" in plan_prompt
    assert "demo-a2a" not in plan_prompt


def test_the_remote_agent_receives_the_gateways_trace(start_gateway, mcp_config, agents_config, demo_a2a):
    with OtlpSink() as sink:
        gateway = start_orchestrating(
            start_gateway, mcp_config, agents_config, {"demo-a2a": "up"}, otel_exporter_otlp_endpoint=sink.url
        )
        client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
        before = len(debug(demo_a2a, "requests"))
        raw = client.chat.completions.with_raw_response.create(
            model=model("remote_parallel")[0], messages=[{"role": "user", "content": "x"}], extra_headers=ORCHESTRATION
        )
        trace_id = raw.headers["x-trace-id"]
        sent = [r for r in debug(demo_a2a, "requests")[before:] if r["method"] == "SendStreamingMessage"]
        print(f"\ntrace {trace_id}; the remote agent got traceparent {sent[0]['traceparent']}")
        assert len(sent) == 1
        version, traced, parent, flags = sent[0]["traceparent"].split("-")
        assert (version, traced) == ("00", trace_id)
        assert int(flags, 16) & 1  # sampled: the remote agent's spans are wanted
        assert parent != "0" * 16


async def test_the_task_span_names_the_remote_agent_and_holds_the_a2a_call(fake_upstream, demo_mcp, demo_a2a, tmp_path):
    mcp = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"})
    agents = write_agents(tmp_path / "agents.yaml", {"name": "demo-a2a", "url": demo_a2a.url + CARD})
    settings = traced_settings(
        fake_upstream.base_url,
        mcp_servers_config=str(mcp),
        orchestration_enabled=True,
        orchestration_agents_config=str(agents),
    )
    async with (
        serve_traced(settings) as gateway,
        httpx.AsyncClient(
            base_url=gateway.url, headers={"Authorization": f"Bearer {TRACED_TOKEN}"}, timeout=30
        ) as http,
    ):
        for _ in range(200):  # MCP and the agent card arrive in the background
            if gateway.services.mcp.tools() and "demo-a2a" in gateway.services.agents.available():
                break
            await asyncio.sleep(0.05)
        before = len(debug(demo_a2a, "requests"))
        body = {"model": model("remote_parallel")[0], "messages": [{"role": "user", "content": "x"}]}
        response = await http.post("/v1/chat/completions", json=body, headers=ORCHESTRATION)
        assert response.status_code == 200, response.text
        spans = await gateway.spans(response.headers["x-trace-id"])
    named = {s.name: s for s in spans}
    task, call = named["task t2"], named["a2a demo-a2a"]
    a2a_task_id = task.attributes["gateway.orchestration.a2a_task_id"]
    assert task.attributes["gateway.orchestration.remote_agent"] == "demo-a2a"
    assert call.attributes["gateway.orchestration.a2a_task_id"] == a2a_task_id
    assert format_span_id(call.parent.span_id) == format_span_id(task.context.span_id)
    assert call.attributes["openinference.span.kind"] == "AGENT"
    # The remote agent's parent span is the A2A call's: its spans nest under it.
    (sent,) = [r for r in debug(demo_a2a, "requests")[before:] if r["method"] == "SendStreamingMessage"]
    assert sent["traceparent"].split("-")[2] == format_span_id(call.context.span_id)
    print(f"\ntask t2 span: remote agent demo-a2a, A2A task {a2a_task_id}; traceparent {sent['traceparent']}")


def test_orchestration_off_lists_no_agents_and_still_answers_501(gateway):
    listing = httpx.get(gateway.base_url + "/agents", headers=AUTH).json()
    assert listing == {"object": "list", "orchestration_enabled": False, "data": []}
    assert "agents" not in httpx.get(gateway.url + "/health/ready").json()["components"]
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, "fake-model+orchestrate=remote_parallel")
    assert caught.value.status_code == 501
