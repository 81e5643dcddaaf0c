"""The chat route answered past the router (api/middleware/chat_route.py) answers exactly as
the FastAPI route does: the same requests to a gateway served with a `root_path` (which
takes the framework's route) and to one without (the direct one), compared field by field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import TOKEN, Gateway, launch_gateway_process

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANSWER_HEADERS = ("content-type", "x-routing-path", "x-routing-reason", "x-routing-model")


@pytest.fixture(scope="module")
def gateways(fake_upstream, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Gateway]]:
    started = {}
    for name, args in (("direct", ()), ("framework", ("--root-path", "/gw"))):
        started[name] = launch_gateway_process(
            fake_upstream.base_url,
            f"chat-route-{name}",
            logs_dir / f"chat-route-{name}.log",
            tmp_path_factory.mktemp(f"chat-route-{name}"),
            uvicorn_args=args,
            llm_api_key="sk-fake",
        )
    yield started
    for gateway in started.values():
        gateway.process.stop()


def answer(response: httpx.Response) -> tuple:
    """What a client sees of an answer, without the per-request ids."""
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    if isinstance(body, dict):
        body.pop("id", None)
        body.pop("created", None)
    text = None if body is not None else response.text.replace(response.headers.get("x-request-id", ""), "")
    return response.status_code, {name: response.headers.get(name) for name in ANSWER_HEADERS}, body, text


CASES = {
    "answer": {"json": {"model": "fake-model", "messages": [{"role": "user", "content": "same"}]}},
    "stream": {"json": {"model": "fake-model", "messages": [{"role": "user", "content": "s"}], "stream": True}},
    "no messages (400)": {"json": {"model": "fake-model"}},
    "not JSON (400)": {"content": b"{nope", "headers": {"content-type": "application/json"}},
    "stream not a boolean (400)": {"json": {"model": "fake-model", "messages": [], "stream": "yes"}},
    "bare virtual prefix (400)": {"json": {"model": "reasoning/", "messages": [{"role": "user", "content": "x"}]}},
}


@pytest.mark.parametrize("case", CASES)
def test_the_direct_route_answers_as_the_framework_route(gateways, case):
    kwargs = CASES[case]
    seen = {}
    for name, gateway in gateways.items():
        headers = {**AUTH, **kwargs.get("headers", {})}
        rest = {key: value for key, value in kwargs.items() if key != "headers"}
        seen[name] = answer(httpx.post(gateway.url + "/v1/chat/completions", headers=headers, timeout=30, **rest))
    assert seen["direct"] == seen["framework"]


def test_other_methods_and_the_openapi_document_still_go_through_the_framework(gateways):
    gateway = gateways["direct"]
    wrong = httpx.get(gateway.url + "/v1/chat/completions", headers=AUTH)
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    document = httpx.get(gateway.url + "/openapi.json").json()
    assert "post" in document["paths"]["/v1/chat/completions"]


def test_the_sdk_gets_the_same_answer_and_errors_from_both(gateways):
    for gateway in gateways.values():
        client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
        reply = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "sdk"}])
        assert reply.choices[0].message.content == "Echo: sdk"
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="fake-model", messages=[])
        assert refused.value.code is not None
