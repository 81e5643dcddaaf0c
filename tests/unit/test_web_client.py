"""The web client's pure parts: its settings, the chat form, the headers and errors it forwards."""

from __future__ import annotations

import json
import re

import httpx2
import openai
import pytest
from pydantic import ValidationError
from starlette.datastructures import Headers

from tests.support.processes import REPO
from web_client.access import is_cross_site
from web_client.chat import ChatForm
from web_client.config import WebClientSettings
from web_client.gateway import broken_stream_event, build_gateway_client, error_response, forwarded_headers

FORM = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "routing_mode": "reasoning"}


def settings(monkeypatch, **env) -> WebClientSettings:
    if "WEB_CLIENT_PASSWORD" not in env:
        monkeypatch.setenv("WEB_CLIENT_OPEN", "true")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return WebClientSettings(_env_file=None)


def test_settings_defaults_and_prefix(monkeypatch):
    defaults = settings(monkeypatch)
    assert (defaults.gateway_url, defaults.phoenix_url, defaults.host, defaults.port) == (
        "http://localhost:8000",
        "",
        "127.0.0.1",
        8080,
    )
    custom = settings(
        monkeypatch,
        WEB_CLIENT_GATEWAY_URL="http://reasoning-api:8000/",
        WEB_CLIENT_PHOENIX_URL="http://localhost:6006/",
        WEB_CLIENT_API_TOKEN="secret-token",
        WEB_CLIENT_PORT="9090",
    )
    assert (custom.gateway_url, custom.phoenix_url, custom.port) == (
        "http://reasoning-api:8000",
        "http://localhost:6006",
        9090,
    )
    assert "secret-token" not in repr(custom)
    assert str(build_gateway_client(custom).base_url) == "http://reasoning-api:8000/v1/"


def test_it_will_not_start_without_a_login_unless_open_on_loopback(monkeypatch):
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert settings(monkeypatch, WEB_CLIENT_HOST=host).open
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com"):
        with pytest.raises(ValidationError, match="WEB_CLIENT_OPEN=true is allowed only on loopback"):
            settings(monkeypatch, WEB_CLIENT_HOST=host)
    monkeypatch.setenv("WEB_CLIENT_OPEN", "false")
    with pytest.raises(ValidationError, match="WEB_CLIENT_PASSWORD is empty"):
        WebClientSettings(_env_file=None)
    locked = settings(monkeypatch, WEB_CLIENT_PASSWORD="pw", WEB_CLIENT_OPEN="false", WEB_CLIENT_HOST="0.0.0.0")
    assert "pw" not in repr(locked)
    with pytest.raises(ValidationError, match="choose one"):
        settings(monkeypatch, WEB_CLIENT_PASSWORD="pw", WEB_CLIENT_OPEN="true", WEB_CLIENT_HOST="127.0.0.1")


def test_allowed_hosts_are_a_comma_separated_list(monkeypatch):
    assert settings(monkeypatch).allowed_hosts == ["localhost", "127.0.0.1"]
    assert settings(monkeypatch, WEB_CLIENT_ALLOWED_HOSTS=" chat.example.com, *.corp ,").allowed_hosts == [
        "chat.example.com",
        "*.corp",
    ]


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("POST", {"host": "localhost:8080"}, False),  # a program (no browser headers)
        ("POST", {"host": "localhost:8080", "sec-fetch-site": "same-origin"}, False),
        ("POST", {"host": "localhost:8080", "origin": "http://localhost:8080"}, False),
        ("POST", {"host": "localhost:8080", "sec-fetch-site": "cross-site"}, True),
        ("POST", {"host": "localhost:8080", "sec-fetch-site": "same-site"}, True),
        ("POST", {"host": "localhost:8080", "origin": "http://localhost:9999"}, True),
        ("POST", {"host": "localhost:8080", "origin": "null"}, True),
        ("GET", {"host": "localhost:8080", "sec-fetch-site": "cross-site"}, False),
    ],
)
def test_cross_site_requests_are_told_apart(method, headers, refused):
    assert (is_cross_site(method, Headers(headers)) is not None) is refused


def test_settings_reject_a_url_that_is_not_http(monkeypatch):
    with pytest.raises(ValidationError, match="http"):
        settings(monkeypatch, WEB_CLIENT_GATEWAY_URL="reasoning-api:8000")
    with pytest.raises(ValidationError, match="WEB_CLIENT_GATEWAY_URL"):
        settings(monkeypatch, WEB_CLIENT_GATEWAY_URL=" ")


def test_the_form_becomes_a_streamed_sdk_call_with_the_routing_headers():
    form = ChatForm.model_validate({**FORM, "temperature": 0, "session_id": "session-1", "request_id": "web-1"})
    assert form.create_arguments() == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
        "extra_headers": {"X-Routing-Mode": "reasoning", "X-Session-ID": "session-1", "X-Client-Request-Id": "web-1"},
    }
    bare = ChatForm.model_validate(FORM).create_arguments()
    assert "temperature" not in bare  # the model's default
    assert bare["extra_headers"] == {"X-Routing-Mode": "reasoning"}


@pytest.mark.parametrize(
    "change",
    [
        {"routing_mode": "sideways"},
        {"messages": []},
        {"messages": [{"role": "tool", "content": "x"}]},
        {"temperature": 3},
        {"session_id": "has spaces"},
        {"request_id": "x" * 129},
        {"api_key": "sneaky"},
    ],
)
def test_the_form_rejects_what_the_gateway_would_not_take(change):
    with pytest.raises(ValidationError):
        ChatForm.model_validate({**FORM, **change})


def test_only_the_headers_the_page_needs_are_forwarded():
    headers = httpx2.Headers(
        {"X-Request-Id": "r", "X-Routing-Path": "reasoning", "X-Trace-Id": "ab", "Set-Cookie": "c", "Server": "s"}
    )
    assert forwarded_headers(headers) == {"x-request-id": "r", "x-routing-path": "reasoning", "x-trace-id": "ab"}


def _status_error(status: int, body: object) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://gw/v1/chat/completions")
    response = httpx2.Response(status, request=request, headers={"x-request-id": "r1"})
    return openai.APIStatusError("failed", response=response, body=body)


def test_gateway_errors_keep_their_shape_and_a_401_says_what_to_set():
    response = error_response(_status_error(501, {"message": "not yet", "type": "not_implemented"}), "http://gw")
    assert (response.status_code, response.headers["x-request-id"]) == (501, "r1")
    assert json.loads(response.body) == {"error": {"message": "not yet", "type": "not_implemented"}}

    refused = json.loads(error_response(_status_error(401, {"message": "Invalid bearer token"}), "http://gw").body)
    assert refused["error"]["message"].startswith("The gateway refused the web client's token: set WEB_CLIENT_API")
    assert refused["error"]["message"].endswith("Gateway said: Invalid bearer token")

    odd = json.loads(error_response(_status_error(500, "plain text"), "http://gw").body)
    assert odd["error"]["message"] == "plain text"


def test_no_answer_from_the_gateway_is_502_or_504():
    request = httpx2.Request("POST", "http://gw/v1/chat/completions")
    refused = error_response(openai.APIConnectionError(request=request), "http://gw")
    assert refused.status_code == 502
    assert json.loads(refused.body)["error"]["code"] == "gateway_unreachable"
    late = error_response(openai.APITimeoutError(request=request), "http://gw")
    assert (late.status_code, json.loads(late.body)["error"]["code"]) == (504, "gateway_timeout")


def test_a_broken_stream_ends_with_an_error_event_then_done():
    frames = broken_stream_event(httpx2.RemoteProtocolError("peer closed"), "http://gw").decode()
    events = [line[6:] for line in frames.split("\n") if line.startswith("data: ")]
    assert frames.startswith("\n\n")  # closes a half-received event before it
    assert events[1] == "[DONE]"
    error = json.loads(events[0])["error"]
    assert (error["type"], error["code"]) == ("gateway_unreachable", "gateway_stream_broken")
    assert "peer closed" in error["message"]


def test_the_vendored_libraries_are_the_pinned_versions():
    lock = json.loads((REPO / "web_client" / "package-lock.json").read_text())["packages"]
    vendor = REPO / "web_client" / "static" / "vendor"
    marked = lock["node_modules/marked"]["version"]
    dompurify = lock["node_modules/dompurify"]["version"]
    assert re.search(rf"marked v{re.escape(marked)}\b", (vendor / "marked.umd.js").read_text()[:300])
    assert f"DOMPurify {dompurify} " in (vendor / "purify.min.js").read_text()[:300]
    pinned = json.loads((REPO / "web_client" / "package.json").read_text())["dependencies"]
    assert pinned == {"marked": marked, "dompurify": dompurify}  # exact versions, no ranges
