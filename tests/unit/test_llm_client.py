"""The gateway's upstream client builds passthrough's requests the way the SDK itself does.

`GatewayOpenAI` copies a request the SDK built once instead of building each one again
(api/upstream/client.py); these tests compare the two on every field that goes on the
wire, so an SDK release that changes what it sends fails here.
"""

from __future__ import annotations

import httpx2
import pytest
from openai import AsyncOpenAI
from openai._models import FinalRequestOptions

from api.config import Settings
from api.upstream.client import GatewayOpenAI, build_llm_client
from api.upstream.deadline import AnswerDeadline

BODY = b'{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"metadata":{"component":"passthrough"}}'
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        _env_file=None, llm_base_url="http://litellm:4000/v1", llm_api_key="sk-upstream", require_auth=False
    )


@pytest.fixture
def client(settings: Settings) -> GatewayOpenAI:
    built = build_llm_client(settings)
    assert isinstance(built, GatewayOpenAI)
    return built


def wire(request: httpx2.Request) -> tuple:
    """What a request puts on the wire, and the timeouts the transport applies to it."""
    return (
        request.method,
        str(request.url),
        sorted(request.headers.multi_items()),
        request.content,
        request.extensions["timeout"],
    )


def passthrough_options(**extra: object) -> FinalRequestOptions:
    """The options passthrough's `llm.post(...)` gives the SDK (api/paths/passthrough.py)."""
    headers = {"Content-Type": "application/json", "traceparent": TRACEPARENT}
    return FinalRequestOptions.construct(method="post", url="/chat/completions", content=BODY, headers=headers, **extra)


@pytest.mark.parametrize("retries_taken", [0, 2])
@pytest.mark.parametrize("timed", [False, True], ids=["stream", "whole-answer deadline"])
def test_a_passthrough_request_is_the_one_the_sdk_builds(client, settings, retries_taken, timed):
    extra = {"timeout": AnswerDeadline.from_settings(settings).timeout} if timed else {}
    options = passthrough_options(**extra)
    for _ in range(2):  # the first builds the template, the second copies it
        ours = client._build_request(options, retries_taken=retries_taken)
        sdk = AsyncOpenAI._build_request(client, options, retries_taken=retries_taken)
        assert wire(ours) == wire(sdk)
    assert ours.headers["x-stainless-retry-count"] == str(retries_taken)
    assert ours.headers["authorization"] == "Bearer sk-upstream"
    assert ours.headers["content-length"] == str(len(BODY))


def test_one_call_s_headers_do_not_reach_the_next(client):
    first = client._build_request(passthrough_options())
    options = FinalRequestOptions.construct(
        method="post", url="/chat/completions", content=b"{}", headers={"Content-Type": "application/json"}
    )
    second = client._build_request(options)
    assert first.headers["traceparent"] == TRACEPARENT
    assert "traceparent" not in second.headers
    assert wire(second) == wire(AsyncOpenAI._build_request(client, options))


@pytest.mark.parametrize(
    "options",
    [
        FinalRequestOptions.construct(method="post", url="/chat/completions", json_data={"model": "m"}),
        FinalRequestOptions.construct(method="get", url="/models"),
        FinalRequestOptions.construct(
            method="post", url="/chat/completions", content=BODY, headers={"X-Stainless-Retry-Count": "7"}
        ),
    ],
    ids=["JSON body (the SDK's resources)", "GET", "a caller's own retry count"],
)
def test_any_other_call_takes_the_sdk_s_path(client, options):
    assert wire(client._build_request(options)) == wire(AsyncOpenAI._build_request(client, options))
    assert client._templates == {}


def test_a_new_api_key_is_a_new_template(client):
    client._build_request(passthrough_options())
    client.api_key = "sk-rotated"
    assert client._build_request(passthrough_options()).headers["authorization"] == "Bearer sk-rotated"
