"""`GET /metrics` after a mixed run through the real stack: every contract metric, plausible values."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TOKEN, write_mcp_config
from tests.support.contract import CONTRACT_METRICS
from tests.support.processes import free_port

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def chat(model: str, stream: bool = False) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": f"m-{uuid.uuid4().hex[:8]}"}], "stream": stream}


def scrape(url: str, headers: dict | None = None) -> dict[tuple[str, tuple], float]:
    response = httpx.get(url + "/metrics", headers=headers or {})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def metered(start_gateway, demo_mcp, tmp_path_factory):
    """A gateway of its own, so the counts below are this module's requests only; its MCP
    servers are the demo server and one that is down."""
    config = write_mcp_config(
        tmp_path_factory.mktemp("mcp") / "servers.yaml",
        {"name": "demo", "url": demo_mcp.url + "/mcp"},
        {"name": "ghost", "url": f"http://127.0.0.1:{free_port()}/mcp"},
    )
    gateway = start_gateway(metrics_require_auth="false", llm_read_timeout=30, mcp_servers_config=config)
    for _ in range(300):  # the demo server connects in the background
        if httpx.get(gateway.url + "/tools", headers=AUTH).json()["data"]:
            break
        time.sleep(0.05)
    return gateway


def test_metrics_after_a_mixed_run(metered, fake_upstream):
    url = metered.url
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        for model in ("gpt-4o", "gpt-4o-mini", "fake-model"):
            assert client.post("/v1/chat/completions", json=chat(model)).status_code == 200
        for _ in range(2):
            response = client.post("/v1/chat/completions", json=chat("fake-model+chunks=3x5", stream=True))
            assert response.status_code == 200
        assert client.post("/v1/chat/completions", json=chat("fake-model+error=429")).status_code == 429
        reasoning = client.post(
            "/v1/chat/completions", json=chat("fake-model+agent=weather"), headers={"X-Routing-Mode": "reasoning"}
        )
        assert reasoning.status_code == 200  # two steps, one get_weather call on the demo server
        orchestration = chat("fake-model")
        response = client.post("/v1/chat/completions", json=orchestration, headers={"X-Routing-Mode": "orchestration"})
        assert response.status_code == 501
        with client.stream("POST", "/v1/chat/completions", json=chat("fake-model+chunks=100x50", stream=True)) as r:
            cancelled_id = r.headers["x-request-id"]
            next(r.iter_bytes())  # the first chunk arrived: hang up
    assert httpx.post(url + "/v1/chat/completions", json=chat("gpt-4o")).status_code == 401
    assert metered.access_line(cancelled_id)["outcome"] == "cancelled"

    samples = scrape(url)  # public by default: no token
    names = {name for name, _ in samples} | {
        line.split()[2] for line in httpx.get(url + "/metrics").text.splitlines() if line.startswith("# TYPE")
    }
    missing = [name for name in CONTRACT_METRICS if name not in names and name.removesuffix("_total") not in names]
    assert not missing

    count = lambda route, status: sample(samples, "gateway_requests_total", route=route, status=status)  # noqa: E731
    assert count("passthrough", "ok") == 5
    assert count("passthrough", "error") == 1
    assert count("passthrough", "cancelled") == 1
    assert count("reasoning", "ok") == 1
    assert count("orchestration", "error") == 1
    assert count("none", "error") == 1  # the 401, rejected before routing

    assert sample(samples, "routing_decisions_total", path="passthrough", reason="default") == 7
    assert sample(samples, "routing_decisions_total", path="reasoning", reason="header_reasoning") == 1
    assert sample(samples, "routing_decisions_total", path="orchestration", reason="header_orchestration") == 1
    for route in ("passthrough", "reasoning", "orchestration"):
        assert sample(samples, "gateway_in_flight_requests", route=route) == 0

    assert sample(samples, "gateway_request_duration_seconds_count", route="passthrough") == 7
    assert sample(samples, "gateway_time_to_first_token_seconds_count", route="passthrough") == 3  # streams only
    duration = sample(samples, "gateway_request_duration_seconds_sum", route="passthrough")
    overhead = sample(samples, "gateway_overhead_seconds_sum", route="passthrough")
    assert sample(samples, "gateway_overhead_seconds_count", route="passthrough") == 7
    assert 0 < overhead < duration
    assert sample(samples, "gateway_tokens_total", route="passthrough", kind="prompt") > 0
    assert sample(samples, "gateway_tokens_total", route="passthrough", kind="completion") > 0

    assert sample(samples, "reasoning_steps_count") == 1
    assert sample(samples, "reasoning_steps_sum") == 2
    assert sample(samples, "tool_calls_total", server="demo", tool="get_weather", outcome="ok") == 1
    assert sample(samples, "tool_call_duration_seconds_count", server="demo") == 1
    assert sample(samples, "mcp_server_up", server="demo") == 1
    assert sample(samples, "mcp_server_up", server="ghost") == 0
    # Every chat request above (ten, the 401 included) becomes one audit row, written off the
    # request path: the writer's counters reach ten with nothing left queued or spilled.
    deadline = time.monotonic() + 30
    while sample(samples, "audit_rows_written_total") < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
        samples = scrape(url)
    assert sample(samples, "audit_rows_written_total") == 10
    assert sample(samples, "audit_queue_depth") == 0
    assert sample(samples, "audit_rows_spilled_total") == 0
    assert sample(samples, "audit_rows_dropped_total") == 0
    # Labels stay low-cardinality: no request ids, no prompt text.
    assert cancelled_id not in str(samples)
    assert "m-" not in "".join(str(labels) for _, labels in samples)


def test_metrics_can_require_the_token(start_gateway):
    gateway = start_gateway(metrics_require_auth="true")
    unauthorized = httpx.get(gateway.url + "/metrics")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "invalid_api_key"
    scrape(gateway.url, AUTH)
