"""Errors as an OpenAI SDK user meets them (contract sections 1 and 5), through the real stack."""

from __future__ import annotations

import re
import uuid

import httpx
import openai
import pytest

from tests.conftest import OPS_HEADERS, TOKEN, log_events
from tests.support.processes import free_port


def user(text: str = "hi") -> list[dict]:
    return [{"role": "user", "content": text}]


def assert_openai_shape(body: dict) -> dict:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


# ---- our own clients' mistakes ---------------------------------------------------------


@pytest.mark.parametrize("api_key", ["wrong-token", ""])
def test_wrong_or_missing_token_is_401(gateway, api_key):
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.post(
        gateway.base_url + "/chat/completions", json={"model": "gpt-4o", "messages": user()}, headers=headers
    )
    assert response.status_code == 401
    error = assert_openai_shape(response.json())
    assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")


def test_sdk_sees_authentication_error(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key="wrong-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o", messages=user())
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_public_endpoints_need_no_token(gateway):
    assert httpx.get(gateway.url + "/health").json()["status"] == "ok"
    assert httpx.get(gateway.url + "/health/ready").status_code == 200
    assert httpx.get(gateway.url + "/openapi.json").status_code == 200


def test_bad_routing_header_is_400_listing_the_allowed_values(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=user(), extra_headers={"X-Routing-Mode": "turbo"})
    error = caught.value.body
    assert error["code"] == "invalid_routing_mode"
    assert "passthrough, reasoning, orchestration, auto" in error["message"]


def test_bad_json_is_400(gateway):
    response = httpx.post(
        gateway.base_url + "/chat/completions",
        content=b'{"model": "gpt-4o", "messages": [',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert assert_openai_shape(response.json())["code"] == "invalid_json"


def test_schema_violation_is_400_naming_the_field(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "wizard", "content": "x"}])
    assert caught.value.body["param"] == "messages[0].role"


def test_a_user_message_without_content_is_our_400_not_the_upstreams_500(client, fake_upstream):
    # LiteLLM fails such a message with a KeyError (a 500, which the gateway would report as 502).
    tag = f"m-{uuid.uuid4().hex[:8]}"
    messages = [{"role": "system", "content": tag}, {"role": "user"}]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert refused.value.body["param"] == "messages[1]"  # type: ignore[index]
    assert "a user message needs content" in refused.value.body["message"]  # type: ignore[index]
    assert fake_upstream.requests_with(tag) == []


@pytest.mark.parametrize("stream", ["yes", "true", 1])
def test_stream_that_is_not_a_json_boolean_is_400_naming_stream(gateway, stream):
    response = httpx.post(
        gateway.base_url + "/chat/completions",
        json={"model": "gpt-4o", "messages": user(), "stream": stream},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 400, response.text
    error = assert_openai_shape(response.json())
    assert (error["type"], error["param"]) == ("invalid_request_error", "stream")
    assert "x-routing-path" not in response.headers  # refused before any path (or upstream) saw it


@pytest.mark.parametrize("model", ["reasoning/", "auto/"])
def test_a_virtual_prefix_without_a_model_is_400_naming_model(client, model):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=user())
    assert (caught.value.body["param"], caught.value.body["code"]) == ("model", "invalid_value")
    assert f"{model}gpt-4o" in caught.value.body["message"]


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_a_json_body_without_the_json_content_type_is_accepted(gateway, content_type):
    headers = {"Authorization": f"Bearer {TOKEN}"} | ({"Content-Type": content_type} if content_type else {})
    response = httpx.post(
        gateway.base_url + "/chat/completions",
        content=b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "plain"}]}',
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Echo: plain"


@pytest.mark.parametrize(
    ("method", "path", "allowed"), [("GET", "/v1/chat/completions", "POST"), ("POST", "/v1/models", "GET")]
)
def test_a_wrong_method_is_an_openai_shaped_405_with_allow(gateway, method, path, allowed):
    response = httpx.request(method, gateway.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    error = assert_openai_shape(response.json())
    assert (error["type"], error["code"]) == ("invalid_request_error", "method_not_allowed")


def test_oversized_body_is_413(start_gateway):
    gateway = start_gateway(max_request_bytes=4096)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=user("x" * 10_000))
    assert caught.value.status_code == 413
    assert caught.value.body["code"] == "request_too_large"
    # A chunked body with no Content-Length is cut off while it streams in.
    chunked = httpx.post(
        gateway.base_url + "/chat/completions",
        content=iter([b'{"model":"gpt-4o","messages":[{"role":"user","content":"', b"y" * 8000, b'"}]}']),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413


def test_orchestration_is_501_and_not_retried(client):
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=user(), extra_headers={"X-Routing-Mode": "orchestration"}
        )
    assert caught.value.status_code == 501
    assert caught.value.body["code"] == "orchestration_not_implemented"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert caught.value.response.headers["x-routing-path"] == "orchestration"


def test_unknown_route_is_an_openai_shaped_404(gateway):
    response = httpx.get(gateway.base_url + "/nope", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert assert_openai_shape(response.json())["code"] == "not_found"


# ---- the upstream's failures -----------------------------------------------------------


def test_upstream_429_is_429_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="fake-model+error=429", messages=user())
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["type"] == "rate_limit_error"


def test_upstream_500_is_502(client):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="fake-model+error=500", messages=user())
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "upstream_error"
    assert "x-should-retry" not in caught.value.response.headers  # transient: the SDK may retry


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=user())
    assert caught.value.body["code"] == "model_not_found"


def test_upstream_timeout_is_504(start_gateway):
    gateway = start_gateway(llm_read_timeout=1, llm_total_timeout_seconds=1)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="fake-model+stall", messages=user())
    assert caught.value.status_code == 504
    assert caught.value.body["type"] == "upstream_timeout"


def test_stall_mid_stream_ends_with_an_error_event(start_gateway):
    gateway = start_gateway(llm_read_timeout=1)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    stream = client.chat.completions.create(model="fake-model+stall_after=2", messages=user("a b c d e"), stream=True)
    received: list = []
    with pytest.raises(openai.APIError, match="did not answer in time"):
        received.extend(stream)
    assert len(received) >= 2  # what arrived before the stall was delivered


BROKEN_STREAM = "fake-model+break=4+chunks=8x40"


def warm_model_group(gateway, model: str) -> None:
    """LiteLLM answers the first stream of a model group it has not served yet with an HTTP 500
    when that stream breaks; later ones break mid-stream as they should. Serve it once first."""
    httpx.post(
        gateway.base_url + "/chat/completions",
        json={"model": model, "messages": user("warm"), "stream": True},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


def test_stream_broken_mid_way_ends_with_an_error_event_then_done(gateway):
    warm_model_group(gateway, BROKEN_STREAM)
    response = httpx.post(
        gateway.base_url + "/chat/completions",
        json={"model": BROKEN_STREAM, "messages": user("a b c d e f g h"), "stream": True},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert response.status_code == 200
    assert events[-1] == "[DONE]"
    error = assert_openai_shape(httpx.Response(200, content=events[-2]).json())
    assert error["type"] == "upstream_error"
    assert '"content"' in events[1]  # the chunks before the break were forwarded


def test_sdk_raises_api_error_for_a_mid_stream_failure(client, gateway):
    warm_model_group(gateway, BROKEN_STREAM)
    stream = client.chat.completions.create(model=BROKEN_STREAM, messages=user("a b c d e f g h"), stream=True)
    received: list = []
    with pytest.raises(openai.APIError, match="upstream stream failed"):
        received.extend(stream)
    assert received


def test_broken_stream_straight_from_the_model_is_also_an_error_event(start_gateway, fake_upstream):
    # Without LiteLLM in between, the broken connection itself reaches the gateway.
    gateway = start_gateway(llm_base_url=fake_upstream.base_url)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.APIError, match="upstream stream broke after it started"):
        list(client.chat.completions.create(model="fake-model+break=2+chunks=6x5", messages=user("a b c"), stream=True))


@pytest.mark.parametrize(
    ("model", "said"),
    [
        ("fake-model+end_after=2+chunks=6", "ended without [DONE]"),
        ("reasoning/fake-model+end_after=2+chunks=6", "ended before its answer finished"),
    ],
)
def test_a_stream_the_model_ends_too_soon_is_an_error_event_not_a_whole_answer(
    start_gateway, fake_upstream, model, said
):
    # The body ends cleanly (no reset) but without finish_reason or [DONE]: a truncated answer.
    gateway = start_gateway(llm_base_url=fake_upstream.base_url)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    received: list[str] = []

    def read_all() -> None:
        for chunk in client.chat.completions.create(model=model, messages=user("a b c d e f"), stream=True):
            received.extend(choice.delta.content or "" for choice in chunk.choices)

    with pytest.raises(openai.APIError, match=re.escape(said)):
        read_all()
    print(f"{model}: {''.join(received)!r} then the error event")
    assert "".join(received)  # what came before the end still reached the client


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_unreachable_upstream_is_502_naming_it_only_in_the_log(start_gateway, transport):
    port = free_port()
    dead = f"http://127.0.0.1:{port}"
    gateway = start_gateway(llm_base_url=dead, llm_http_transport=transport)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=user())
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_unreachable"
    # The client learns the kind of failure, not the gateway's internal addresses (contract section 10).
    assert str(port) not in caught.value.body["message"]
    assert "upstream" in caught.value.body["message"]
    failures = [e for e in log_events(gateway.logs()) if e.get("event") == "upstream_failure"]
    assert any("onnect" in e["error"] for e in failures), failures
    ready = httpx.get(gateway.url + "/health/ready")
    assert ready.status_code == 503
    assert ready.json()["components"]["upstream"] == {"status": "down"}  # no detail without audit:all
    detailed = httpx.get(gateway.url + "/health/ready", headers=OPS_HEADERS).json()["components"]["upstream"]
    assert detailed["status"] == "down"
    assert detailed["detail"]


def test_wrong_gateway_key_is_a_permanent_502_naming_llm_api_key(start_gateway):
    gateway = start_gateway(llm_api_key="sk-not-the-master-key")
    client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=user())
    assert caught.value.status_code == 502
    assert "LLM_API_KEY" in caught.value.body["message"]
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_missing_provider_key_says_which_key_to_set(client):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="needs-openai-key", messages=user(uuid.uuid4().hex))
    assert caught.value.status_code == 502
    assert "set OPENAI_API_KEY" in caught.value.body["message"]
