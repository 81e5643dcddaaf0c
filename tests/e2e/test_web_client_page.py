"""The chat page in a real browser, against the real stack: web client → gateway → LiteLLM → fake
model, with the demo MCP server (HTTP) and mcp-server-time (stdio) as the agent's tools."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Locator, expect

from tests.conftest import TOKEN
from tests.e2e.conftest import ARTIFACTS
from tests.support.chat_page import marker, open_chat, send
from tests.support.processes import free_port

pytestmark = pytest.mark.browser


def wait_for_event(fake_upstream, marker_text: str, kind: str, timeout: float) -> float:
    seq = fake_upstream.request_with(marker_text)["seq"]
    return fake_upstream.wait_for_event(seq, kind, timeout=timeout)


# ---- streaming answers ---------------------------------------------------------------------


def test_passthrough_answer_streams_into_the_page(page, web_client, agent_gateway):
    tag = marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model+chunks=8x150")
    turn = send(page, f"Hello {tag}")

    answer = turn.get_by_test_id("answer")
    expect(answer).to_contain_text("Echo:")
    assert turn.get_attribute("data-state") == "streaming"  # part of the answer is shown, more to come
    expect(turn).to_have_attribute("data-state", "done")
    expect(answer).to_have_text(f"Echo: Hello {tag}")
    expect(page.get_by_test_id("user-turn").last).to_have_text(f"Hello {tag}")

    # Per answer: the route, its reason and the request id the gateway logged it under (its own;
    # the page's id went as X-Client-Request-Id and is logged beside it).
    expect(turn.get_by_test_id("routing-path")).to_have_text("passthrough")
    expect(turn.get_by_test_id("routing-reason")).to_have_text("header_passthrough")
    request_id = turn.get_by_test_id("request-id").inner_text()
    assert request_id == turn.get_attribute("data-request-id")
    line = agent_gateway.access_line(request_id)
    assert (line["outcome"], line["client_request_id"]) == ("ok", turn.get_attribute("data-client-request-id"))
    # No tracing in this gateway: no X-Trace-Id, so no trace link; no reasoning section.
    expect(turn.get_by_test_id("trace-link")).to_have_count(0)
    expect(turn.get_by_test_id("reasoning")).to_be_hidden()


NOTE_WHEN_RESULTS_AND_ANSWER_APPEAR = """() => {
    window.__seen = {};
    const note = (name) => { window.__seen[name] ??= performance.now(); };
    new MutationObserver(() => {
        if (document.querySelector("[data-testid=tool-result]")) note("toolResult");
        if (document.querySelector("[data-testid=answer]")?.textContent) note("answer");
    }).observe(document.getElementById("conversation"), { subtree: true, childList: true, characterData: true });
}"""


def test_reasoning_steps_appear_as_cards_before_the_answer(page, web_client):
    # 300 ms per LLM call: each step, and the answer after them, arrives visibly later.
    open_chat(page, web_client, mode="reasoning", model="fake-model+agent=weather_and_time+latency=300")
    page.evaluate(NOTE_WHEN_RESULTS_AND_ANSWER_APPEAR)
    turn = send(page, "What is the **weather** and the time in Paris?")

    first = turn.locator("[data-testid=step-card][data-step='1']")
    weather = first.get_by_test_id("tool-call")
    expect(weather).to_have_attribute("data-state", "ok")
    expect(turn).to_have_attribute("data-state", "done")
    cards = turn.get_by_test_id("step-card")
    expect(cards).to_have_count(3)
    expect(first.get_by_test_id("step-thought")).to_have_text("First, the weather in Paris.")
    expect(weather).to_have_attribute("data-tool", "get_weather")
    expect(weather.get_by_test_id("tool-args")).to_contain_text('"city": "Paris"')
    expect(weather.get_by_test_id("tool-outcome")).to_have_text(_ok_with_time())
    expect(weather.get_by_test_id("tool-result")).to_contain_text('"city": "Paris"')  # the demo MCP server's answer

    clock = turn.locator("[data-testid=step-card][data-step='2']").get_by_test_id("tool-call")
    expect(clock).to_have_attribute("data-tool", "get_current_time")
    expect(clock.get_by_test_id("tool-args")).to_contain_text('"timezone": "Europe/Paris"')
    expect(clock.get_by_test_id("tool-result")).to_contain_text("Europe/Paris")  # from mcp-server-time
    expect(turn.locator("[data-testid=step-card][data-step='3']").get_by_test_id("tool-call")).to_have_count(0)
    expect(cards.nth(2)).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("reasoning-summary")).to_have_text("· 3 steps, finished")

    # The answer, below the steps, rendered as Markdown.
    answer = turn.get_by_test_id("answer")
    expect(answer).to_have_text("Echo: What is the weather and the time in Paris?")
    expect(answer.locator("strong")).to_have_text("weather")
    assert _is_above(turn.get_by_test_id("reasoning"), answer)
    expect(turn.get_by_test_id("routing-path")).to_have_text("reasoning")
    expect(turn.get_by_test_id("routing-reason")).to_have_text("header_reasoning")
    # The page saw the first tool result well before the first word of the answer (two more
    # LLM calls of 300 ms each, and a tool call, came in between).
    seen = page.evaluate("window.__seen")
    assert seen["answer"] - seen["toolResult"] > 600

    # The README's picture (docs/images/web-client-reasoning.png), tall enough for the whole answer.
    page.set_viewport_size({"width": 1280, "height": 1100})
    page.get_by_test_id("conversation").evaluate("list => { list.scrollTop = 0; }")
    page.screenshot(path=ARTIFACTS / "web-client-reasoning.png")

    # Each step is a collapsible card.
    first.locator("summary").click()
    expect(first).not_to_have_attribute("open", "")
    expect(first.get_by_test_id("step-thought")).to_be_hidden()
    first.locator("summary").click()
    expect(first.get_by_test_id("step-thought")).to_be_visible()


def test_a_failing_tool_is_shown_as_failed_in_its_card(page, web_client):
    open_chat(page, web_client, mode="reasoning", model="fake-model+agent=tool_fails")
    turn = send(page, f"How many parsecs is a metre? {marker()}")

    expect(turn).to_have_attribute("data-state", "done")
    call = turn.get_by_test_id("tool-call")
    expect(call).to_have_attribute("data-tool", "convert_units")
    expect(call).to_have_attribute("data-state", "failed")
    expect(call.get_by_test_id("tool-outcome")).to_contain_text("✗ failed")
    expect(call.get_by_test_id("tool-result")).to_contain_text("parsec")
    expect(turn.locator("[data-testid=step-card][data-step='1'] [data-testid=step-status]")).to_have_text("done")
    expect(turn.get_by_test_id("answer")).to_contain_text("Echo: How many parsecs")


def test_a_step_the_model_cannot_produce_is_shown_as_an_error_in_the_reasoning(page, web_client):
    open_chat(page, web_client, mode="reasoning", model="fake-model+agent=invalid_twice")
    turn = send(page, f"Confuse yourself {marker()}")

    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("reasoning-error")).to_contain_text("Error:")
    expect(turn.get_by_test_id("reasoning-summary")).to_contain_text("step error")
    expect(turn.get_by_test_id("answer")).to_contain_text("Echo: Confuse yourself")


# ---- stopping -------------------------------------------------------------------------------


def test_stop_mid_stream_cancels_the_request_at_the_gateway(page, web_client, agent_gateway, fake_upstream):
    tag = marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model+chunks=200x50")
    turn = send(page, f"Tell me a long story {tag}")
    expect(turn.get_by_test_id("answer")).to_contain_text("Echo:")
    expect(page.get_by_test_id("send")).to_be_hidden()

    page.get_by_test_id("stop").click()

    expect(turn).to_have_attribute("data-state", "stopped")
    expect(turn.get_by_test_id("stopped")).to_be_visible()
    expect(page.get_by_test_id("send")).to_be_visible()
    shown = turn.get_by_test_id("answer").inner_text()
    time.sleep(0.3)
    assert turn.get_by_test_id("answer").inner_text() == shown  # nothing more arrives
    # 200 chunks 50 ms apart would take 10 s: the gateway and the model saw the browser leave.
    assert wait_for_event(fake_upstream, tag, "disconnected", timeout=3.0) < 3.0
    line = agent_gateway.access_line(turn.get_attribute("data-request-id"))
    assert (line["outcome"], line["status"]) == ("cancelled", 200)


def test_stop_while_the_agent_plans_its_first_step(page, web_client, agent_gateway, fake_upstream):
    """Before the gateway has answered at all: a reasoning stream starts once the first step is planned."""
    tag = marker()
    open_chat(page, web_client, mode="reasoning", model="fake-model+stall")
    turn = send(page, f"Think hard {tag}")
    fake_upstream.request_with(tag)  # the step's LLM call reached the model, which never answers
    expect(turn.get_by_test_id("answer-meta")).to_contain_text("waiting for the gateway")

    page.get_by_test_id("stop").click()

    expect(turn).to_have_attribute("data-state", "stopped")
    # The gateway saw the web client leave and cancelled the request (its step call included)
    # long before its 60 s upstream read timeout. It never answered: find it by the page's id.
    line = agent_gateway.access_line(client_request_id=turn.get_attribute("data-client-request-id"))
    assert (line["outcome"], line["status"], line["route"]) == ("cancelled", 499, "reasoning")
    assert line["latency_ms"] < 5000
    # The page does not pretend the agent is still thinking.
    expect(turn.get_by_test_id("reasoning-pending")).to_have_text("stopped before the first step")
    expect(turn.get_by_test_id("reasoning-summary")).to_have_text("· stopped")
    assert "thinking…" not in turn.inner_text()


def test_stop_while_tools_run_leaves_nothing_marked_running(page, web_client, agent_gateway):
    # Two tools at once; slow_operation would take 30 s (the gateway's tool timeout is 5 s).
    open_chat(page, web_client, mode="reasoning", model="fake-model+agent=weather_then_slow")
    turn = send(page, f"Weather and something slow {marker()}")
    step = turn.locator("[data-testid=step-card][data-step='1']")
    expect(step.get_by_test_id("step-status")).to_have_text("running tools concurrently…")
    expect(step.locator("[data-testid=tool-call][data-state=running]")).to_have_count(2)

    page.get_by_test_id("stop").click()

    expect(turn).to_have_attribute("data-state", "stopped")
    expect(step).to_have_attribute("data-state", "stopped")
    expect(step.get_by_test_id("step-status")).to_have_text("stopped")
    calls = step.get_by_test_id("tool-call")
    for index in range(2):
        expect(calls.nth(index)).to_have_attribute("data-state", "stopped")
        expect(calls.nth(index).get_by_test_id("tool-outcome")).to_have_text("stopped")
    expect(turn.get_by_test_id("reasoning-summary")).to_have_text("· stopped at step 1")
    shown = turn.inner_text()
    print(f"after Stop: {shown!r}")
    assert "running" not in shown
    assert "thinking…" not in shown
    line = agent_gateway.access_line(turn.get_attribute("data-request-id"))
    assert line["outcome"] == "cancelled"


def test_an_answer_that_fails_mid_reasoning_leaves_nothing_marked_running(page, web_client):
    """The view itself, in the browser: a step with a tool under way, then the stream ends in an error."""
    page.goto(web_client.url)
    shown = page.evaluate(
        """async () => {
            const { ReasoningView } = await import("/static/reasoning.js");
            const turn = document.getElementById("assistant-turn").content.firstElementChild.cloneNode(true);
            document.body.append(turn);
            const view = new ReasoningView(turn.querySelector(".reasoning"));
            view.expect();
            view.apply({ type: "iteration_start", step_iteration: 1 });
            view.apply({ type: "tool_execution_start", step_iteration: 1,
                         metadata: { tool_predictions: [{ tool_name: "get_weather", arguments: {} }] } });
            const before = turn.querySelector(".reasoning").innerText;
            view.settle("interrupted");
            return { before, after: turn.querySelector(".reasoning").innerText,
                     states: [...turn.querySelectorAll("[data-state]")].map((node) => node.dataset.state) };
        }"""
    )
    assert "running tools…" in shown["before"]
    assert "running" not in shown["after"]
    assert "thinking…" not in shown["after"]
    assert "· interrupted at step 1" in shown["after"]
    assert shown["states"] == ["stopped", "stopped"]  # the step, its tool call


NOTE_WHEN_PENDING_AND_FIRST_STEP_APPEAR = """() => {
    window.__seen = {};
    const note = (name) => { window.__seen[name] ??= performance.now(); };
    new MutationObserver(() => {
        if (document.querySelector("[data-testid=reasoning-pending]:not([hidden])")) note("pending");
        if (document.querySelector("[data-testid=step-card]")) note("step");
    }).observe(document.getElementById("conversation"), { subtree: true, childList: true, attributes: true });
}"""


def test_a_reasoning_request_shows_thinking_at_once_before_its_first_step(page, web_client):
    # 800 ms per LLM call: the gateway says nothing until the first step is planned.
    open_chat(page, web_client, mode="reasoning", model="fake-model+agent=weather+latency=800")
    page.evaluate(NOTE_WHEN_PENDING_AND_FIRST_STEP_APPEAR)
    turn = send(page, f"What is the weather in Paris? {marker()}")

    pending = turn.get_by_test_id("reasoning-pending")
    expect(pending).to_be_visible()
    expect(pending).to_have_text("thinking… (planning the first step)")
    expect(turn.get_by_test_id("reasoning-summary")).to_have_text("· thinking…")
    page.screenshot(path=ARTIFACTS / "web-client-thinking.png")
    # Replaced by the step cards once the events come.
    expect(turn.get_by_test_id("step-card").first).to_be_visible()
    expect(pending).to_be_hidden()
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("reasoning-summary")).to_have_text("· 2 steps, finished")
    seen = page.evaluate("window.__seen")
    print(f"'thinking…' shown {seen['step'] - seen['pending']:.0f} ms before the first step card")
    assert seen["step"] - seen["pending"] > 500, seen


# ---- errors ----------------------------------------------------------------------------------


def test_orchestration_shows_the_501_message(page, web_client):
    open_chat(page, web_client, mode="orchestration", model="gpt-4o")
    # This gateway's /v1/routes has orchestration off: the picker says so before anyone asks.
    option = page.get_by_test_id("routing-mode").locator("option[value=orchestration]")
    expect(option).to_have_attribute("data-path", "not_implemented")
    expect(option).to_have_text("orchestration (off here: 501)")
    turn = send(page, "Plan a trip with several agents")

    expect(turn).to_have_attribute("data-state", "error")
    error = turn.get_by_test_id("error")
    expect(error).to_contain_text("Error 501 (orchestration_not_implemented)")
    expect(error).to_contain_text("The orchestration path is not implemented yet")
    expect(turn.get_by_test_id("routing-path")).to_have_text("orchestration")
    expect(turn.get_by_test_id("routing-reason")).to_have_text("header_orchestration")
    expect(turn.get_by_test_id("orchestration")).to_be_hidden()  # no plan came
    expect(page.get_by_test_id("send")).to_be_visible()


def test_an_upstream_error_before_the_stream_is_shown(page, web_client):
    open_chat(page, web_client, mode="passthrough", model="fake-model+error=500")
    turn = send(page, f"Anything {marker()}")

    expect(turn).to_have_attribute("data-state", "error")
    expect(turn.get_by_test_id("error")).to_contain_text("Error 502 (upstream_error)")
    expect(turn.get_by_test_id("error")).to_contain_text("500")
    expect(turn.get_by_test_id("request-id")).to_have_text(turn.get_attribute("data-request-id"))


def test_an_upstream_rate_limit_is_shown_with_its_status(page, web_client):
    open_chat(page, web_client, mode="passthrough", model="fake-model+error=429")
    turn = send(page, f"Anything {marker()}")

    expect(turn.get_by_test_id("error")).to_contain_text("Error 429")
    expect(turn.get_by_test_id("error")).to_contain_text("rate limit")


def test_an_error_in_the_middle_of_the_stream_is_shown_after_the_partial_answer(page, web_client):
    tag = marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model+break=2+chunks=6x100")
    turn = send(page, f"one two three four five six {tag}")

    expect(turn).to_have_attribute("data-state", "error")
    expect(turn.get_by_test_id("answer")).to_contain_text("Echo:")  # what came before the break
    error = turn.get_by_test_id("error")
    expect(error).to_contain_text("The answer failed (upstream_stream_error)")
    expect(page.get_by_test_id("send")).to_be_visible()


def test_a_wrong_token_is_a_readable_401(page, start_web_client, agent_gateway):
    web_client = start_web_client(agent_gateway, api_token="not-a-token")
    page.goto(web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("Error 401")
    page.get_by_test_id("routing-mode").select_option("passthrough")
    page.get_by_test_id("model-input").fill("gpt-4o")
    turn = send(page, "Hello?")

    expect(turn.get_by_test_id("error")).to_contain_text("Error 401 (invalid_api_key)")
    expect(turn.get_by_test_id("error")).to_contain_text("WEB_CLIENT_API_TOKEN")


def test_an_unreachable_gateway_is_a_readable_message(page, start_web_client, agent_gateway):
    class Nowhere:
        url = f"http://127.0.0.1:{free_port()}"

    web_client = start_web_client(Nowhere())
    page.goto(web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("Error 502 (gateway_unreachable)")
    page.get_by_test_id("model-input").fill("gpt-4o")
    turn = send(page, "Hello?")
    expect(turn.get_by_test_id("error")).to_contain_text("could not reach the gateway at " + Nowhere.url)


# ---- what the model writes is never executed ------------------------------------------------

MALICIOUS = [
    '<img src=x onerror="window.__pwned = 1">',
    "<script>window.__pwned = 2</script>",
    "[click me](javascript:window.__pwned=3)",
    '<svg onload="window.__pwned = 4"></svg>',
    '<iframe src="javascript:parent.__pwned = 5"></iframe>',
    '<a href="javascript:window.__pwned=6">raw link</a>',
]


def test_html_in_the_answer_is_shown_as_text_never_run(page, web_client):
    open_chat(page, web_client, mode="passthrough", model="fake-model")
    # The fake model echoes the message: the answer carries the raw HTML back.
    text = " ".join(MALICIOUS) + "\n\n```html\n<script>window.__pwned = 7</script>\n```\n"
    turn = send(page, text)

    expect(turn).to_have_attribute("data-state", "done")
    answer = turn.get_by_test_id("answer")
    expect(answer).to_contain_text('<img src=x onerror="window.__pwned = 1">')
    expect(answer).to_contain_text("<script>window.__pwned = 2</script>")
    assert answer.locator("img, script, svg, iframe").count() == 0
    expect(answer.locator("pre code")).to_have_text("<script>window.__pwned = 7</script>")
    for link in answer.locator("a").all():
        assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None


def test_the_markdown_renderer_sanitizes_whatever_it_is_given(page, web_client):
    """The render function itself, in the browser, on payloads marked would pass through as HTML."""
    page.goto(web_client.url)
    rendered = page.evaluate(
        """async (payloads) => {
            const { renderMarkdown } = await import("/static/markdown.js");
            const box = document.createElement("div");
            document.body.append(box);
            box.innerHTML = payloads.map(renderMarkdown).join("");
            await new Promise((resolve) => setTimeout(resolve, 300));
            return {
                pwned: window.__pwned ?? null,
                active: box.querySelectorAll("script, img, svg, iframe, object, embed, [onerror], [onload]").length,
                jsLinks: [...box.querySelectorAll("a")]
                    .filter((a) => /^javascript:/i.test(a.getAttribute("href") || "")).length,
                codeBlock: box.querySelector("pre code")?.textContent,
            };
        }""",
        [*MALICIOUS, "```js\nalert('<b>hi</b>')\n```"],
    )
    assert rendered == {"pwned": None, "active": 0, "jsLinks": 0, "codeBlock": "alert('<b>hi</b>')\n"}


# ---- settings, conversation, models --------------------------------------------------------


def test_temperature_system_prompt_and_model_reach_the_model(page, web_client, fake_upstream):
    tag = marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model+say=fine")
    page.get_by_test_id("temperature").fill("0.3")
    page.get_by_test_id("system-prompt").fill(f"Answer in one word. {tag}")
    turn = send(page, "How are you?")
    expect(turn.get_by_test_id("answer")).to_have_text("fine")

    body = fake_upstream.request_with(tag)["body"]
    assert body["model"] == "fake-model+say=fine"
    assert body["temperature"] == 0.3
    assert body["messages"] == [
        {"role": "system", "content": f"Answer in one word. {tag}"},
        {"role": "user", "content": "How are you?"},
    ]


def test_the_conversation_is_kept_until_new_chat(page, web_client, agent_gateway, fake_upstream):
    first, second, third = marker(), marker(), marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model")
    expect(send(page, f"first {first}")).to_have_attribute("data-state", "done")
    turn = send(page, f"second {second}")
    expect(turn).to_have_attribute("data-state", "done")

    assert fake_upstream.request_with(second)["body"]["messages"] == [
        {"role": "user", "content": f"first {first}"},
        {"role": "assistant", "content": f"Echo: first {first}"},
        {"role": "user", "content": f"second {second}"},
    ]
    session = agent_gateway.access_line(turn.get_attribute("data-request-id"))["session_id"]
    assert session.startswith("session-")

    page.get_by_test_id("new-chat").click()
    expect(page.get_by_test_id("conversation").locator("li")).to_have_count(0)
    turn = send(page, f"third {third}")
    expect(turn).to_have_attribute("data-state", "done")
    assert fake_upstream.request_with(third)["body"]["messages"] == [{"role": "user", "content": f"third {third}"}]
    assert agent_gateway.access_line(turn.get_attribute("data-request-id"))["session_id"] not in (None, session)


def test_new_chat_during_an_answer_stops_it_and_forgets_it(page, web_client, agent_gateway, fake_upstream):
    first, second = marker(), marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model+chunks=200x50")
    turn = send(page, f"first {first}")
    expect(turn.get_by_test_id("answer")).to_contain_text("Echo:")
    request_id = turn.get_attribute("data-request-id")

    page.get_by_test_id("new-chat").click()

    expect(page.get_by_test_id("conversation").locator("li")).to_have_count(0)
    assert agent_gateway.access_line(request_id)["outcome"] == "cancelled"
    expect(page.get_by_test_id("send")).to_be_visible()
    page.get_by_test_id("model-input").fill("fake-model")
    expect(send(page, f"second {second}")).to_have_attribute("data-state", "done")
    assert fake_upstream.request_with(second)["body"]["messages"] == [{"role": "user", "content": f"second {second}"}]


def test_the_model_selector_offers_the_gateways_models(page, web_client):
    page.goto(web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    options = page.get_by_test_id("model-options").locator("option")
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    # LiteLLM's models, and the gateway's virtual reasoning/ and auto/ twins.
    assert {"gpt-4o", "gpt-4o-mini", "reasoning/gpt-4o", "auto/gpt-4o-mini"} <= set(values)
    # The first real model is chosen; any other name can be typed (LiteLLM wildcard routes).
    expect(page.get_by_test_id("model-input")).to_have_value(next(v for v in values if "/" not in v))


def test_enter_sends_and_shift_enter_starts_a_new_line(page, web_client, fake_upstream):
    tag = marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model")
    prompt = page.get_by_test_id("prompt")
    prompt.click()
    prompt.type("line one")
    prompt.press("Shift+Enter")
    prompt.type(f"line two {tag}")
    prompt.press("Enter")
    expect(page.get_by_test_id("assistant-turn").last).to_have_attribute("data-state", "done")
    assert fake_upstream.request_with(tag)["body"]["messages"][-1]["content"] == f"line one\nline two {tag}"


def test_esc_stops_a_running_answer(page, web_client, agent_gateway, fake_upstream):
    tag = marker()
    open_chat(page, web_client, mode="passthrough", model="fake-model+chunks=200x50")
    prompt = page.get_by_test_id("prompt")
    prompt.fill(f"Tell me a long story {tag}")
    prompt.press("Enter")
    turn = page.get_by_test_id("assistant-turn").last
    expect(turn.get_by_test_id("answer")).to_contain_text("Echo:")

    page.keyboard.press("Escape")

    expect(turn).to_have_attribute("data-state", "stopped")
    expect(page.get_by_test_id("send")).to_be_visible()
    assert wait_for_event(fake_upstream, tag, "disconnected", timeout=3.0) < 3.0
    assert agent_gateway.access_line(turn.get_attribute("data-request-id"))["outcome"] == "cancelled"


# ---- trace links ---------------------------------------------------------------------------


def test_an_answer_links_its_trace_in_phoenix_when_tracing_is_on(page, start_gateway, start_web_client):
    # Tracing on (exporting to a collector that is not there: exports fail quietly), so the
    # gateway answers with a real X-Trace-Id; the web client knows where Phoenix's UI is.
    gateway = start_gateway(otel_exporter_otlp_endpoint="http://127.0.0.1:9")
    traced_client = start_web_client(gateway, phoenix_url="http://phoenix.test:6006")
    open_chat(page, traced_client, mode="passthrough", model="fake-model")
    turn = send(page, marker())
    expect(turn).to_have_attribute("data-state", "done")
    trace_id = gateway.access_line(turn.get_by_test_id("request-id").inner_text())["trace_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    link = turn.get_by_test_id("trace-link")
    expect(link).to_have_attribute("href", f"http://phoenix.test:6006/redirects/traces/{trace_id}")

    # No trace id (a gateway without tracing) or no Phoenix URL: no link.
    links = page.evaluate(
        """async () => {
            const { metaFields, renderMeta } = await import("/static/answer.js");
            const untraced = document.createElement("div");
            renderMeta(untraced, metaFields(new Headers({"x-routing-path": "reasoning"}), "http://phoenix.test:6006"));
            const noPhoenix = document.createElement("div");
            renderMeta(noPhoenix, metaFields(new Headers({"x-trace-id": "4bf92f3577b34da6a3ce929d0e0e4736"}), ""));
            return [untraced.querySelectorAll("a").length, noPhoenix.querySelectorAll("a").length];
        }"""
    )
    assert links == [0, 0]


# ---- the token stays on the server -----------------------------------------------------------


def test_the_token_never_reaches_the_browser(page, web_client):
    seen: list[str] = []
    page.on("response", lambda response: seen.append(response.url))
    open_chat(page, web_client, mode="passthrough", model="fake-model")
    expect(send(page, "hello")).to_have_attribute("data-state", "done")
    bodies = page.evaluate(
        """async (urls) => Promise.all(urls.map(async (url) => {
            const response = await fetch(url);
            return [...response.headers].join(" ") + (await response.text());
        }))""",
        [url for url in seen if "/api/chat" not in url],
    )
    assert len(bodies) >= 8  # the page, its scripts and styles, config, models
    assert not [body for body in bodies if TOKEN in body]
    assert TOKEN not in page.content()


def _ok_with_time() -> re.Pattern[str]:
    return re.compile(r"^✓ ok · \d+ ms$")


def _is_above(upper: Locator, lower: Locator) -> bool:
    return upper.bounding_box()["y"] + upper.bounding_box()["height"] <= lower.bounding_box()["y"]
