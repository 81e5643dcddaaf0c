"""Resilience through the real LiteLLM proxy (contract section 11): retries, cooldowns, fallbacks and
load balancing are LiteLLM router features, configured, not re-implemented; these tests prove they
work through the gateway, with the openai SDK as the client and two instances of the fake model
(A and B) as the deployments (tests/support/litellm_resilience_config.yaml)."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import redis

from tests.conftest import CONTROL_TOKEN, TOKEN, Gateway, launch_gateway_process, start_litellm
from tests.support.fake_upstream import FakeUpstream
from tests.support.processes import REPO, ServerProcess, free_port

CONFIG = REPO / "tests" / "support" / "litellm_resilience_config.yaml"
COOLDOWN_SECONDS = 3  # router_settings.cooldown_time in that config
OUTCOME = ("model", "upstream_model", "attempted_retries", "attempted_fallbacks", "cache_hit")


@dataclass
class Stack:
    gateway: Gateway
    a: FakeUpstream
    b: FakeUpstream

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gateway.base_url, api_key=TOKEN, max_retries=0)


def start_fake(logs_dir: Path, name: str) -> ServerProcess:
    port = free_port()
    command = [sys.executable, str(REPO / "scripts" / "fake_upstream.py"), "--port", str(port)]
    return ServerProcess(name, command, port, logs_dir / f"{name}.log").start("/health")


@pytest.fixture(scope="module")
def stack(logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    a, b = start_fake(logs_dir, "fake-a"), start_fake(logs_dir, "fake-b")
    namespace = f"test-cache-{uuid.uuid4().hex[:8]}"
    fakes = {
        "FAKE_A_BASE_URL": a.url + "/v1",
        "FAKE_B_BASE_URL": b.url + "/v1",
        # LiteLLM's response cache: the machine's real Redis, under a namespace of this run's own.
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "LITELLM_CACHE_NAMESPACE": namespace,
    }
    litellm = start_litellm(
        "litellm-resilience",
        FakeUpstream(a.url),
        logs_dir,
        f"http://127.0.0.1:{free_port()}/v1/traces",
        config=CONFIG,
        extra_env=fakes,
    )
    gateway = launch_gateway_process(
        litellm.url, "gateway-resilience", logs_dir / "gateway-resilience.log", tmp_path_factory.mktemp("resilience")
    )
    yield Stack(gateway, FakeUpstream(a.url), FakeUpstream(b.url))
    for process in (gateway.process, litellm, a, b):
        process.stop()
    cache = redis.Redis(host="127.0.0.1", port=6379)
    for key in cache.scan_iter(f"{namespace}*"):
        cache.delete(key)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def marker() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


def test_a_failing_deployment_is_retried_on_the_healthy_one_and_then_cooled_down(stack):
    """`flaky` has a deployment on A that always fails and one on B that answers."""
    client = stack.client()
    tag = marker()
    answers, raw = [], None
    started = time.monotonic()
    # Until the shuffle has picked A once (it soon does), which fails and cools it down.
    while time.monotonic() - started < 20 and not stack.a.requests_with(tag):
        raw = client.chat.completions.with_raw_response.create(model="flaky", messages=ask(f"{tag} {len(answers)}"))
        answers.append(raw.parse())
    assert stack.a.requests_with(tag), "the shuffle never picked the failing deployment in 20 s"
    first_failure = time.monotonic()  # at most one call after A failed: the cooldown began before this
    # Inside the cooldown (with a margin for the call that saw the failure) every call goes to B.
    during = []
    while time.monotonic() < first_failure + COOLDOWN_SECONDS - 0.5:
        during.append(client.chat.completions.create(model="flaky", messages=ask(f"{tag} cool {len(during)}")))
    a_during = len(stack.a.requests_with(f"{tag} cool"))
    print(
        f"{len(answers)} calls until A failed once, all answered {[a.choices[0].message.content for a in answers]}; "
        f"{len(during)} calls inside its {COOLDOWN_SECONDS} s cooldown: {a_during} reached A"
    )
    assert all(a.choices[0].message.content == "healthy" for a in [*answers, *during])  # retried onto B
    assert raw is not None
    # The call that met A says so: in LiteLLM's header, forwarded, and in its audit row.
    assert raw.headers["x-litellm-attempted-retries"] == "1"
    assert "x-litellm-model-api-base" not in raw.headers  # the deployment's address stays inside
    row = stack.gateway.audit_row(raw.headers["x-request-id"])
    print(f"the retried call's row: { ({k: row[k] for k in OUTCOME}) }")
    assert (row["upstream_model"], row["attempted_retries"], row["attempted_fallbacks"]) == ("flaky", 1, 0)
    assert len(during) >= 3
    assert a_during == 0
    # After the cooldown A gets traffic again (and fails again, and is retried again).
    time.sleep(max(0.0, COOLDOWN_SECONDS + 0.5 - (time.monotonic() - first_failure)))
    after = [client.chat.completions.create(model="flaky", messages=ask(f"{tag} after {i}")) for i in range(30)]
    a_after = len(stack.a.requests_with(f"{tag} after"))
    print(f"30 calls after the cooldown: {a_after} reached A again")
    assert a_after >= 1
    assert all(a.choices[0].message.content == "healthy" for a in after)


def test_a_failing_model_falls_back_to_the_smaller_one(stack):
    tag = marker()
    answer = stack.client().chat.completions.with_raw_response.create(model="big", messages=ask(tag))
    completion = answer.parse()
    row = stack.gateway.audit_row(answer.headers["x-request-id"])
    print(f"big → {completion.choices[0].message.content!r}, served as {completion.model!r}; row {row}")
    assert completion.choices[0].message.content == "from small"
    assert answer.headers["x-litellm-attempted-fallbacks"] == "1"
    assert (row["model"], row["upstream_model"], row["attempted_fallbacks"]) == ("big", "small", 1)
    assert len(stack.a.requests_with(tag)) >= 1  # big was tried (and its retries)
    assert len(stack.b.requests_with(tag)) == 1  # small answered once


def test_a_stream_that_fails_before_its_first_byte_falls_back_too(stack):
    tag = marker()
    with stack.client().chat.completions.with_streaming_response.create(
        model="big", messages=ask(tag), stream=True
    ) as response:
        chunks = list(response.parse())
        headers = response.headers
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "from small"
    assert headers["x-litellm-attempted-fallbacks"] == "1"
    row = stack.gateway.audit_row(headers["x-request-id"])
    assert (row["upstream_model"], row["attempted_fallbacks"]) == ("small", 1)


def test_a_stream_that_breaks_after_it_started_ends_with_the_contracts_error_event(stack):
    """Once LiteLLM has sent a chunk it cannot fall back: the client keeps the chunks and gets the error event.

    (A deployment that breaks before LiteLLM forwarded its first chunk is retried and falls back
    like a failed call: LiteLLM reads the first chunk before it answers.)
    """
    tag = marker()
    received: list = []
    stream = stack.client().chat.completions.create(model="breaks-mid-stream", messages=ask(tag), stream=True)
    with pytest.raises(openai.APIError) as caught:
        received.extend(stream)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    print(f"{len(received)} chunks ({text!r}), then: {caught.value}")
    assert text.startswith("Echo")
    assert "upstream stream failed" in str(caught.value)
    assert not stack.b.requests_with(tag)  # no fallback once the stream had started


def test_load_is_balanced_across_two_deployments(stack):
    tag = marker()
    client = stack.client()
    for i in range(200):
        client.chat.completions.create(model="balanced", messages=ask(f"{tag} {i}"))
    on_a, on_b = len(stack.a.requests_with(tag)), len(stack.b.requests_with(tag))
    print(f"200 requests: {on_a} on A, {on_b} on B")
    assert on_a + on_b == 200
    assert 80 <= on_a <= 120  # ±20 % of an even split


def reached(stack: Stack, tag: str) -> int:
    return len(stack.a.requests_with(tag)) + len(stack.b.requests_with(tag))


@pytest.mark.parametrize("stream", [False, True])
def test_a_repeated_deterministic_request_is_answered_from_the_cache(stack, stream):
    tag = marker()
    client = stack.client()
    seen = []
    for _ in range(2):
        with client.chat.completions.with_streaming_response.create(
            model="balanced", messages=ask(tag), temperature=0, stream=stream
        ) as response:
            if stream:
                text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
            else:
                text = response.parse().choices[0].message.content
            seen.append((text, response.headers.get("x-litellm-cache-key"), response.headers["x-request-id"]))
    rows = [stack.gateway.audit_row(request_id) for _, _, request_id in seen]
    print(
        f"stream={stream}: answers {[t for t, _, _ in seen]}, cache keys {[k for _, k, _ in seen]}, "
        f"cache_hit {[r['cache_hit'] for r in rows]}, reached the fakes {reached(stack, tag)} time(s)"
    )
    assert seen[0][0] == seen[1][0] == f"Echo: {tag}"
    assert reached(stack, tag) == 1  # the second never left LiteLLM
    assert [r["cache_hit"] for r in rows] == [False, True]
    assert seen[1][1]  # the forwarded x-litellm-cache-key names the entry


def test_an_undeterministic_request_is_never_cached(stack):
    tag = marker()
    client = stack.client()
    for _ in range(2):
        client.chat.completions.create(model="balanced", messages=ask(tag), temperature=0.7)
    assert reached(stack, tag) == 2


def test_the_race_returns_the_fastest_model_in_about_its_latency(stack):
    """Seed 004's race is LiteLLM's fastest_response over a comma-separated model list: a control
    field, so only a client with upstream:control may ask for it."""
    tag = marker()
    control = openai.OpenAI(base_url=stack.gateway.base_url, api_key=CONTROL_TOKEN, max_retries=0)
    started = time.monotonic()
    answer = control.chat.completions.create(
        model="slow,fast", messages=ask(tag), extra_body={"fastest_response": True}
    )
    seconds = time.monotonic() - started
    print(f"race: {answer.choices[0].message.content!r} in {seconds:.2f} s (fast 0.2 s, slow 6 s)")
    assert answer.choices[0].message.content == "fast"
    assert seconds < 5  # the answer did not wait for the slow model
