"""Phoenix's views of our traces add up: totals, outputs, users and messages, read back from
Phoenix's own API (the figures its trace list and Sessions page show), and screenshots of both.

A real Phoenix, a real LiteLLM exporting to it (`callbacks` in tests/support/litellm_test_config.yaml)
and a gateway exporting to it; the fake model records the usage it answered each call with,
which is the truth: a trace's tokens are that usage summed over the request's calls, its cost
those tokens at the price the test gives Phoenix for the fake model. Run by `make test-e2e`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from playwright.sync_api import Browser

from tests.conftest import OPS_TOKEN, PHOENIX_PROJECT
from tests.e2e.conftest import ARTIFACTS
from tests.support.fake_upstream import FakeUpstream
from tests.support.phoenix import PhoenixReader, Span

pytestmark = [pytest.mark.phoenix, pytest.mark.timeout(600)]

SERVER_SPAN = "POST /v1/chat/completions"
CLIENT = "test-ops"  # OPS_TOKEN's client (tests/support/clients_test.yaml): the trace's user
#: What the test tells Phoenix the fake model costs, per million tokens (dear, so that the
#: screenshots show cents, not "<$0.01").
INPUT_PRICE, OUTPUT_PRICE = 1000.0, 2000.0
CLASSIFIER = "fake-model+choose=passthrough"


@dataclass
class Turn:
    marker: str
    session: str
    trace_id: str
    answer: str
    spans: list[Span]


@pytest.fixture(scope="module")
def gateway(start_traced_gateway):
    gateway = start_traced_gateway(routing_classifier_model=CLASSIFIER)
    headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
    for _ in range(300):  # the demo MCP server connects in the background
        if httpx.get(gateway.url + "/tools", headers=headers).json()["data"]:
            break
        time.sleep(0.05)
    return gateway


@pytest.fixture(scope="module")
def priced(phoenix: PhoenixReader) -> None:
    """Phoenix prices the fake model (its cost daemon reloads models every 5 s)."""
    phoenix.price_model("fake-model.*", INPUT_PRICE, OUTPUT_PRICE)
    time.sleep(8)


def ask(
    gateway, phoenix: PhoenixReader, fake: FakeUpstream, question: str, *, mode: str, stream: bool, session: str
) -> Turn:
    """One chat request; waits until Phoenix has every span of its trace (ours and LiteLLM's)."""
    marker = uuid.uuid4().hex[:10]
    model = "fake-model+chunks=3" if mode == "passthrough" else "fake-model"
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": f"{question} ({marker})"}], "stream": stream},
        headers={"Authorization": f"Bearer {OPS_TOKEN}", "X-Session-ID": session, "X-Routing-Mode": mode},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    answer = stream_answer(response.text) if stream else response.json()["choices"][0]["message"]["content"]
    calls = fake.usage_with(marker)[2]
    trace_id = response.headers["x-trace-id"]

    def complete(spans: list[Span]) -> bool:
        ours = our_llm_spans(spans)
        return (
            any(s["name"] == SERVER_SPAN for s in spans)
            and len(ours) == calls
            and sum(s["name"] == "litellm_request" for s in spans) == calls
        )

    return Turn(marker, session, trace_id, answer, phoenix.wait_for_trace(PHOENIX_PROJECT, trace_id, complete))


def stream_answer(body: str) -> str:
    parts = []
    for line in body.splitlines():
        if line.startswith("data: {"):
            for choice in orjson.loads(line[6:]).get("choices") or ():
                parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


def our_llm_spans(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s["span_kind"] == "LLM" and not s["name"].startswith("litellm")]


def cost(prompt: int, completion: int) -> float:
    return (prompt * INPUT_PRICE + completion * OUTPUT_PRICE) / 1_000_000


CASES = {
    "passthrough": ("passthrough", "hello phoenix", False),
    "passthrough-stream": ("passthrough", "hello phoenix", True),
    "reasoning": ("reasoning", "Weather in Paris?", False),
    "reasoning-stream": ("reasoning", "Weather in Paris?", True),
    "auto": ("auto", "hello classifier", False),
}


@pytest.mark.parametrize("case", CASES)
def test_trace_and_session_totals_equal_the_fake_models_usage(gateway, phoenix, fake_upstream, priced, case):
    mode, question, stream = CASES[case]
    session = f"session-{uuid.uuid4().hex[:8]}"
    turn = ask(gateway, phoenix, fake_upstream, question, mode=mode, stream=stream, session=session)
    prompt, completion, calls = fake_upstream.usage_with(turn.marker)
    assert calls == {"passthrough": 1, "reasoning": 3, "auto": 2}[mode]

    trace = phoenix.trace(PHOENIX_PROJECT, turn.trace_id)
    root = trace["rootSpan"]
    print(
        f"\n{case}: {calls} calls, fake usage {prompt}+{completion}={prompt + completion} tokens, "
        f"${cost(prompt, completion):.8f}; Phoenix trace {root['cumulativeTokenCountTotal']} tokens, "
        f"${trace['costSummary']['total']['cost']}"
    )
    assert (root["cumulativeTokenCountPrompt"], root["cumulativeTokenCountCompletion"]) == (prompt, completion)
    assert trace["costSummary"]["total"]["cost"] == pytest.approx(cost(prompt, completion))
    assert trace["userId"] == CLIENT

    sessions = phoenix.session(session)
    assert sessions["numTraces"] == 1
    assert sessions["tokenUsage"] == {"prompt": prompt, "completion": completion, "total": prompt + completion}
    assert sessions["costSummary"]["total"]["cost"] == pytest.approx(cost(prompt, completion))
    assert sessions["userId"] == CLIENT
    assert sessions["lastOutput"]["value"] == turn.answer

    # Exactly one span per model call carries the counts: ours. LiteLLM's two say nothing of tokens or users.
    for span in turn.spans:
        counted = {k for k in span["attributes"] if k.startswith(("llm.token_count", "llm.cost"))}
        if span["name"].startswith("litellm"):
            assert not counted, (span["name"], counted)
            assert "user.id" not in span["attributes"]
    assert len(our_llm_spans(turn.spans)) == calls


@pytest.mark.parametrize("case", ["passthrough", "passthrough-stream", "reasoning", "reasoning-stream"])
def test_the_answer_is_the_output_of_the_request_and_agent_spans(gateway, phoenix, fake_upstream, case):
    mode, question, stream = CASES[case]
    turn = ask(gateway, phoenix, fake_upstream, question, mode=mode, stream=stream, session=f"s-{uuid.uuid4().hex}")
    named = {s["name"]: s for s in turn.spans}
    assert turn.answer
    assert named[SERVER_SPAN]["attributes"]["output.value"] == turn.answer
    assert named[SERVER_SPAN]["attributes"]["user.id"] == CLIENT
    if mode == "reasoning":
        assert named["reasoning agent"]["attributes"]["output.value"] == turn.answer
        assert named["synthesis"]["attributes"]["output.value"] == turn.answer


def test_every_llm_span_of_ours_has_named_message_views(gateway, phoenix, fake_upstream):
    views = f"views-{uuid.uuid4().hex[:8]}"
    turns = [
        ask(gateway, phoenix, fake_upstream, "hello phoenix", mode="passthrough", stream=False, session=views),
        ask(gateway, phoenix, fake_upstream, "Weather in Paris?", mode="reasoning", stream=False, session=views),
        ask(gateway, phoenix, fake_upstream, "hello classifier", mode="auto", stream=False, session=views),
    ]
    ours = [s for turn in turns for s in our_llm_spans(turn.spans)]
    assert sorted(s["name"] for s in ours) == sorted(
        ["passthrough", "reasoning step 1", "reasoning step 2", "synthesis", "routing classifier", "passthrough"]
    )
    for span in ours:
        attributes = span["attributes"]
        assert attributes["llm.input_messages.0.message.role"] in ("system", "user"), span["name"]
        assert attributes["llm.output_messages.0.message.role"] == "assistant", span["name"]
        assert attributes["llm.output_messages.0.message.content"], span["name"]
        assert not attributes["output.value"].startswith('{"id"'), "the raw chat.completion body is no output"
    step_1 = next(s for s in ours if s["name"] == "reasoning step 1")
    assert "get_weather" in step_1["attributes"]["llm.output_messages.0.message.content"]


@pytest.fixture
def phoenix_page(browser: Browser) -> Iterator:
    # Wide enough for the trace list's token and cost columns, right of input and output.
    context = browser.new_context(viewport={"width": 3000, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_screenshots_of_the_trace_list_and_the_session_page(gateway, phoenix, fake_upstream, priced, phoenix_page):
    """Two turns of one conversation; the trace list and the Sessions page show each turn's
    answer, user and true totals (saved under test-artifacts/screenshots/ for a human to check)."""
    session = f"demo-{uuid.uuid4().hex[:6]}"
    first = ask(gateway, phoenix, fake_upstream, "hello phoenix", mode="passthrough", stream=False, session=session)
    second = ask(gateway, phoenix, fake_upstream, "Weather in Paris?", mode="reasoning", stream=True, session=session)
    project = phoenix.project_id(PHOENIX_PROJECT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    tokens = [sum(fake_upstream.usage_with(turn.marker)[:2]) for turn in (first, second)]
    print(f"\nscreenshots: turns of {tokens[0]} and {tokens[1]} tokens, session {sum(tokens)}")

    phoenix_page.goto(f"{phoenix.url}/projects/{project}/traces")
    phoenix_page.get_by_text(second.answer[:30]).first.wait_for()
    row = phoenix_page.get_by_role("row").filter(has_text=second.answer[:30]).first
    total = row.get_by_text(f"{tokens[1]:,}", exact=True)  # the trace's true total, not three times it
    total.wait_for()
    total.scroll_into_view_if_needed()
    phoenix_page.screenshot(path=ARTIFACTS / "phoenix_trace_list.png")

    session_id = phoenix.session(session)["id"]
    phoenix_page.set_viewport_size({"width": 1600, "height": 1100})
    phoenix_page.goto(f"{phoenix.url}/projects/{project}/sessions/{session_id}")
    phoenix_page.get_by_text(first.answer[:30]).first.wait_for()
    phoenix_page.get_by_text(second.answer[:30]).first.wait_for()
    phoenix_page.get_by_text(f"{sum(tokens):,}", exact=True).first.wait_for()  # Total Tokens
    phoenix_page.screenshot(path=ARTIFACTS / "phoenix_session.png", full_page=True)
