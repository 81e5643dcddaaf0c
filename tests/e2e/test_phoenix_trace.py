"""One trace tree from our gateway into LiteLLM, read back from a real Phoenix.

Phoenix, a LiteLLM proxy exporting to it (`callbacks: ["litellm_phoenix.phoenix_logger"]`) and a gateway
exporting to it all run as real processes; only the model is the fake. Run by
`make test-e2e` (and `.ci/run`), which installs Phoenix first.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.conftest import PHOENIX_PROJECT, TOKEN

# Phoenix alone takes 10-40 s to start on these machines, LiteLLM another 20 s.
pytestmark = [pytest.mark.phoenix, pytest.mark.timeout(600)]

SERVER_SPAN = "POST /v1/chat/completions"


def by_id(spans: list[dict]) -> dict[str, dict]:
    return {span["context"]["span_id"]: span for span in spans}


def metadata(span: dict) -> dict:
    """Phoenix returns the `metadata` JSON attribute flattened (`metadata.component`) or whole."""
    attributes = span["attributes"]
    if isinstance(attributes.get("metadata"), str):
        return json.loads(attributes["metadata"])
    flat = {k.removeprefix("metadata."): v for k, v in attributes.items() if k.startswith("metadata.")}
    nested: dict = {}
    for key, value in flat.items():
        target = nested
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return nested


def litellm_children(spans: list[dict], parent_id: str) -> list[dict]:
    return [s for s in spans if s["parent_id"] == parent_id and s["name"].startswith("litellm")]


@pytest.fixture(scope="module")
def traced_gateway(start_traced_gateway):
    return start_traced_gateway()


@pytest.mark.parametrize("stream", [False, True])
def test_one_trace_from_our_request_span_into_litellms_spans(traced_gateway, phoenix, stream):
    session = f"session-{uuid.uuid4().hex[:8]}"
    prompt = f"hello phoenix {uuid.uuid4().hex[:8]}"
    response = httpx.post(
        traced_gateway.url + "/v1/chat/completions",
        json={"model": "fake-model+chunks=3x5", "messages": [{"role": "user", "content": prompt}], "stream": stream},
        headers={"Authorization": f"Bearer {TOKEN}", "X-Session-ID": session},
        timeout=30,
    )
    assert response.status_code == 200
    trace_id = response.headers["x-trace-id"]

    def complete(spans: list[dict]) -> bool:
        ours = [s for s in spans if s["name"] == "passthrough"]
        return any(s["name"] == SERVER_SPAN for s in spans) and any(
            litellm_children(spans, s["context"]["span_id"]) for s in ours
        )

    spans = phoenix.wait_for_trace(PHOENIX_PROJECT, trace_id, complete)
    assert {s["context"]["trace_id"] for s in spans} == {trace_id}  # one trace, theirs and ours

    (server,) = [s for s in spans if s["name"] == SERVER_SPAN]
    assert server["parent_id"] is None
    assert server["span_kind"] == "CHAIN"
    assert server["attributes"]["session.id"] == session
    assert server["attributes"]["gateway.routing.path"] == "passthrough"

    (routing,) = [s for s in spans if s["name"] == "routing"]
    assert routing["parent_id"] == server["context"]["span_id"]

    (llm,) = [s for s in spans if s["name"] == "passthrough"]
    assert llm["span_kind"] == "LLM"
    assert llm["parent_id"] == server["context"]["span_id"]
    assert llm["attributes"]["session.id"] == session
    assert metadata(llm)["component"] == "passthrough"
    assert metadata(llm)["session_id"] == session

    # LiteLLM's own spans hang under our LLM span, and carry the component we sent.
    (litellm_root,) = litellm_children(spans, llm["context"]["span_id"])
    assert litellm_root["span_kind"] == "LLM"
    requester = metadata(litellm_root)["requester_metadata"]
    assert requester["component"] == "passthrough"
    assert requester["session_id"] == session
    nested = [s for s in spans if s["parent_id"] == litellm_root["context"]["span_id"]]
    assert nested, "LiteLLM's request span should sit under its proxy span"

    # Phoenix can filter by component: the attribute filter finds our LLM span.
    found = httpx.get(
        f"{phoenix.url}/v1/projects/{PHOENIX_PROJECT}/spans",
        params={"trace_id": trace_id, "attribute": "gateway.component:passthrough"},
        timeout=10,
    ).json()["data"]
    assert [s["context"]["span_id"] for s in found] == [llm["context"]["span_id"]]


def test_a_reasoning_request_is_one_tree_with_steps_tools_and_litellm_under_each_llm_call(traced_gateway, phoenix):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(300):  # the demo MCP server connects in the background
        if httpx.get(traced_gateway.url + "/tools", headers=headers).json()["data"]:
            break
        time.sleep(0.05)
    session = f"session-{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        traced_gateway.url + "/v1/chat/completions",
        json={"model": "fake-model+agent=demo", "messages": [{"role": "user", "content": "Weather in Paris?"}]},
        headers={**headers, "X-Routing-Mode": "reasoning", "X-Session-ID": session},
        timeout=60,
    )
    assert response.status_code == 200
    trace_id = response.headers["x-trace-id"]
    llm_names = ("reasoning step 1", "reasoning step 2", "synthesis")

    def complete(spans: list[dict]) -> bool:
        calls = [s for s in spans if s["name"] in llm_names]
        return (
            any(s["name"] == SERVER_SPAN for s in spans)
            and len(calls) == 3
            and all(litellm_children(spans, s["context"]["span_id"]) for s in calls)
        )

    spans = phoenix.wait_for_trace(PHOENIX_PROJECT, trace_id, complete)
    named = {s["name"]: s for s in spans}
    ids = by_id(spans)
    server, agent = named[SERVER_SPAN], named["reasoning agent"]
    assert agent["span_kind"] == "AGENT"
    assert agent["parent_id"] == server["context"]["span_id"]
    assert named["step 1"]["parent_id"] == agent["context"]["span_id"]
    assert named["reasoning step 1"]["parent_id"] == named["step 1"]["context"]["span_id"]
    tool = named["tool get_weather"]
    assert tool["span_kind"] == "TOOL"
    assert tool["parent_id"] == named["step 1"]["context"]["span_id"]
    for call in (s for s in spans if s["name"] in llm_names):
        assert call["span_kind"] == "LLM"
        assert metadata(call)["component"] == "reasoning-agent"
        assert call["attributes"]["session.id"] == session
        assert ids[call["parent_id"]]["name"] in ("step 1", "step 2", "reasoning agent")
        (litellm_root,) = litellm_children(spans, call["context"]["span_id"])
        assert metadata(litellm_root)["requester_metadata"]["component"] == "reasoning-agent"
