"""Upstream limits as a client meets them: the whole-answer deadline against the per-chunk
read timeout, a full pool (503 `overloaded`), and a stream that breaks after it started
(`upstream_stream_error` on every path), through the real gateway process."""

from __future__ import annotations

import json
import threading

import httpx
import openai
import pytest

from tests.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def user(text: str = "hi") -> list[dict]:
    return [{"role": "user", "content": text}]


def sse_payloads(response: httpx.Response) -> list:
    return [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]


# ---- LLM_TOTAL_TIMEOUT_SECONDS vs LLM_READ_TIMEOUT --------------------------------------


@pytest.fixture(scope="module")
def patient(start_gateway, fake_upstream):
    """Per-chunk read timeout 1.5 s, whole non-streamed answer 5 s; straight to the model, so
    the timings are the gateway's own."""
    return start_gateway(llm_base_url=fake_upstream.base_url, llm_read_timeout=1.5, llm_total_timeout_seconds=5)


def test_a_non_streamed_answer_slower_than_the_read_timeout_is_not_cut(patient):
    client = openai.OpenAI(base_url=patient.base_url, api_key=TOKEN, max_retries=0)
    answer = client.chat.completions.create(model="fake-model+latency=2500", messages=user("slow but whole"))
    assert answer.choices[0].message.content == "Echo: slow but whole"


def test_a_non_streamed_answer_past_the_total_timeout_is_504_naming_it(patient):
    client = openai.OpenAI(base_url=patient.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="fake-model+latency=12000", messages=user())
    assert caught.value.status_code == 504
    assert caught.value.body["type"] == "upstream_timeout"
    assert "LLM_TOTAL_TIMEOUT_SECONDS" in caught.value.body["message"]


def test_a_stream_longer_than_the_total_timeout_is_bounded_per_chunk_only(patient):
    client = openai.OpenAI(base_url=patient.base_url, api_key=TOKEN, max_retries=0)
    # 16 chunks 400 ms apart: 6.4 s in all, past the 5 s total, each within the 1.5 s read timeout.
    chunks = list(
        client.chat.completions.create(model="fake-model+chunks=16x400", messages=user("a b c d e f g h"), stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: a b c d e f g h"


# ---- a full pool ------------------------------------------------------------------------


def test_a_call_that_finds_the_pool_full_is_503_overloaded_with_retry_after(start_gateway, fake_upstream):
    gateway = start_gateway(llm_base_url=fake_upstream.base_url, llm_max_connections=1, llm_pool_timeout=0.3)
    opened = threading.Event()

    def hold_the_only_connection() -> None:
        body = {"model": "fake-model+stall_after=1", "messages": user("a b c"), "stream": True}
        try:
            with httpx.stream(
                "POST", gateway.base_url + "/chat/completions", json=body, headers=AUTH, timeout=3
            ) as response:
                for _ in response.iter_lines():
                    opened.set()
        except httpx.ReadTimeout:
            pass  # we leave: the gateway closes its upstream stream, the slot frees

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    try:
        assert opened.wait(10)
        client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="fake-model", messages=user())
    finally:
        holder.join()
    assert caught.value.status_code == 503
    assert (caught.value.body["type"], caught.value.body["code"]) == ("service_unavailable", "overloaded")
    assert caught.value.response.headers["retry-after"] == "1"
    assert "LLM_MAX_CONNECTIONS" in caught.value.body["message"]
    assert "x-should-retry" not in caught.value.response.headers  # transient: the SDK may retry
    # The slot came back when the holder left.
    assert client.chat.completions.create(model="fake-model", messages=user("again")).choices[0].message.content


# ---- a stream that breaks after it started ------------------------------------------------


@pytest.mark.parametrize("hop", ["straight", "through_litellm"])
@pytest.mark.parametrize("path", ["passthrough", "reasoning"])
def test_a_broken_stream_ends_with_upstream_stream_error_then_done(start_gateway, fake_upstream, hop, path):
    gateway = start_gateway(llm_base_url=fake_upstream.base_url) if hop == "straight" else start_gateway()
    model = "fake-model+break=4+chunks=8x40"
    body = {"model": model, "messages": user("one two three four five six seven eight"), "stream": True}
    headers = {**AUTH, "X-Routing-Mode": path}
    # LiteLLM answers the first broken stream of a model group with an HTTP 500: serve it once.
    httpx.post(gateway.base_url + "/chat/completions", json=body, headers=headers, timeout=30)
    response = httpx.post(gateway.base_url + "/chat/completions", json=body, headers=headers, timeout=30)
    payloads = sse_payloads(response)
    assert response.status_code == 200, response.text
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert (error["type"], error["code"]) == ("upstream_error", "upstream_stream_error"), error
    contents = [
        json.loads(p)["choices"][0]["delta"].get("content") for p in payloads[:-2] if json.loads(p).get("choices")
    ]
    assert any(contents), "the chunks before the break were forwarded"
