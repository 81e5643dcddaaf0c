"""The web client's server over plain HTTP: health, the page's headers, and the chat relay."""

from __future__ import annotations

import json
import re
import uuid
from typing import get_args

import httpx

from tests.conftest import TOKEN
from tests.support.processes import free_port
from web_client.chat import RoutingMode


def chat(web_client, **form) -> httpx.Response:
    body = {"routing_mode": "passthrough", "messages": [{"role": "user", "content": "hi"}], **form}
    return httpx.post(web_client.url + "/api/chat", json=body, timeout=30)


def payloads(text: str) -> list:
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    return [data if data == "[DONE]" else json.loads(data) for data in events]


def test_health_answers_without_the_gateway(start_web_client):
    class Nowhere:
        url = f"http://127.0.0.1:{free_port()}"

    web_client = start_web_client(Nowhere())
    response = httpx.get(web_client.url + "/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_the_page_is_served_with_a_strict_content_security_policy(web_client):
    response = httpx.get(web_client.url + "/")
    assert response.status_code == 200
    assert 'data-testid="conversation"' in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "img-src 'self' data:" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    # The page offers exactly the routing modes the proxy accepts.
    offered = re.findall(r'<option value="([a-z]+)"', response.text)
    assert offered == list(get_args(RoutingMode)) == ["auto", "passthrough", "reasoning", "orchestration"]
    config = httpx.get(web_client.url + "/api/config").json()
    assert config == {"gateway_url": config["gateway_url"], "phoenix_url": "http://phoenix.test:6006"}


def test_the_stream_is_relayed_unchanged_with_the_gateways_headers(web_client, agent_gateway):
    request_id = f"relay-{uuid.uuid4().hex[:8]}"
    body = {"model": "fake-model+say=one_two_three", "messages": [{"role": "user", "content": "hi"}]}
    relayed = chat(web_client, **body, request_id=request_id, session_id="s-1")
    direct = httpx.post(
        agent_gateway.base_url + "/chat/completions",
        json={**body, "stream": True, "stream_options": {"include_usage": True}},
        headers={"Authorization": f"Bearer {TOKEN}", "X-Routing-Mode": "passthrough"},
        timeout=30,
    )

    assert relayed.status_code == 200
    assert relayed.headers["content-type"].startswith("text/event-stream")
    gateway_id = relayed.headers["x-request-id"]  # the gateway's own; the page's id is kept beside it
    assert gateway_id != request_id
    assert (relayed.headers["x-routing-path"], relayed.headers["x-routing-reason"]) == (
        "passthrough",
        "header_passthrough",
    )
    # Same events as a direct client gets, but for the per-answer id and timestamp.
    assert _without_ids(payloads(relayed.text)) == _without_ids(payloads(direct.text))
    assert payloads(relayed.text)[-1] == "[DONE]"
    usage = payloads(relayed.text)[-2]["usage"]  # asked for: the page shows each answer's tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    line = agent_gateway.access_line(gateway_id)
    assert (line["session_id"], line["route"], line["outcome"]) == ("s-1", "passthrough", "ok")
    assert line["client_request_id"] == request_id


def test_without_a_token_it_works_with_a_gateway_that_needs_none(start_gateway, start_web_client):
    """The `make run` default: REQUIRE_AUTH=false, no API_TOKENS, no WEB_CLIENT_API_TOKEN."""
    open_gateway = start_gateway(require_auth="false", api_tokens="")
    web_client = start_web_client(open_gateway, api_token="")
    response = chat(web_client, model="fake-model+say=no_token_needed")
    assert response.status_code == 200
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads(response.text)[:-1] if p["choices"])
    assert text == "no token needed"
    assert httpx.get(web_client.url + "/api/models").status_code == 200


def test_a_malformed_form_is_400_naming_the_field(web_client):
    response = chat(web_client, model="gpt-4o", routing_mode="sideways")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_form")
    assert "routing_mode" in error["message"]


def test_gateway_errors_keep_their_status_body_and_headers(web_client):
    response = chat(web_client, model="gpt-4o", routing_mode="orchestration", request_id="orch-1")
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "orchestration_not_implemented"
    assert response.headers["x-routing-path"] == "orchestration"
    assert len(response.headers["x-request-id"]) == 32  # the gateway's id, relayed (not the page's "orch-1")

    limited = chat(web_client, model="fake-model+error=429")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")


def test_a_connection_that_breaks_mid_stream_ends_with_an_error_event(start_web_client, fake_upstream):
    # Any OpenAI-compatible server can stand behind the web client; the fake model drops this one.
    class FakeAsGateway:
        url = fake_upstream.url

    web_client = start_web_client(FakeAsGateway())
    response = chat(web_client, model="fake-model+break=2+chunks=6x10")
    assert response.status_code == 200
    events = payloads(response.text)
    assert events[-1] == "[DONE]"
    error = events[-2]["error"]
    assert (error["type"], error["code"]) == ("gateway_unreachable", "gateway_stream_broken")
    assert "broke mid-answer" in error["message"]


def test_a_gateway_that_does_not_answer_in_time_is_504(start_web_client, fake_upstream):
    class FakeAsGateway:
        url = fake_upstream.url

    web_client = start_web_client(FakeAsGateway(), read_timeout=1)
    response = chat(web_client, model="fake-model+stall")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "gateway_timeout"


def _without_ids(events: list) -> list:
    return [e if e == "[DONE]" else {k: v for k, v in e.items() if k not in ("id", "created")} for e in events]


def test_its_calls_are_a_configured_client_with_its_own_usage(start_gateway, start_web_client, tmp_path):
    """The web client is a client like any other: its token names `web-client`, whose rows and limits are its own."""
    clients = tmp_path / "clients.yaml"
    clients.write_text(
        "clients: [{name: web-client, token_env: WEB_CLIENT_API_TOKEN, limits: {requests_per_minute: 600}}]"
    )
    gateway = start_gateway(clients_config=clients, web_client_api_token="web-secret")
    web_client = start_web_client(gateway, api_token="web-secret")
    response = chat(web_client, model="fake-model+say=as_the_web_client")
    assert response.status_code == 200
    line = gateway.access_line(response.headers["x-request-id"])
    print(f"access line: client={line['client']} client_id={line['client_id']}")
    assert line["client"] == "web-client"
