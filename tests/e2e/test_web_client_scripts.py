"""The page's script modules, exercised inside the browser on inputs the stack rarely produces."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def loaded(page, web_client):
    page.goto(web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    return page


def test_sse_events_split_anywhere_are_put_back_together(loaded):
    """Network chunks cut events, lines and even UTF-8 characters at arbitrary places."""
    datas = loaded.evaluate(
        """async () => {
            const { eventData } = await import("/static/sse.js");
            const parts = [
                [100, 97, 116, 97, 58, 32, 123, 34, 97, 34, 58],      // 'data: {"a":'
                [49, 125, 10],                                           // '1}\\n'
                [10, 58, 32, 107, 101, 101, 112, 10, 10],                // '\\n: keep\\n\\n' (a comment)
                [100, 97, 116, 97, 58, 32, 104, 0xc3],                   // 'data: h' + half of 'é'
                [0xa9, 108, 108, 111, 13, 10, 13, 10],                   // rest of 'é' + 'llo\\r\\n\\r\\n'
                [100, 97, 116, 97, 58, 32, 91, 68, 79, 78, 69, 93, 10, 10], // 'data: [DONE]\\n\\n'
            ];
            const body = new ReadableStream({
                start(controller) {
                    for (const part of parts) controller.enqueue(new Uint8Array(part));
                    controller.close();
                },
            });
            const out = [];
            for await (const data of eventData(body)) out.push(data);
            return out;
        }"""
    )
    assert datas == ['{"a":1}', "héllo", "[DONE]"]


def test_chunks_without_reasoning_events_show_their_reasoning_content_as_thinking(loaded):
    """A passthrough model that streams DeepSeek-style `reasoning_content`: plain text, then the answer."""
    shown = loaded.evaluate(
        """async () => {
            const { AnswerView } = await import("/static/answer.js");
            const turn = document.getElementById("assistant-turn").content.firstElementChild.cloneNode(true);
            document.getElementById("conversation").append(turn);
            const view = new AnswerView(turn, "");
            const delta = (d) => ({ choices: [{ index: 0, delta: d }] });
            view.applyChunk(delta({ role: "assistant", reasoning_content: "Let me <b>think</b>. " }));
            view.applyChunk(delta({ reasoning_content: "Done." }));
            view.applyChunk(delta({ content: "# Title" }));
            view.finish("done");
            return {
                thinkingHidden: turn.querySelector("[data-testid=thinking]").hidden,
                thinking: turn.querySelector(".thinking-text").textContent,
                bold: turn.querySelectorAll(".thinking b").length,
                heading: turn.querySelector("[data-testid=answer] h1")?.textContent,
                reasoningHidden: turn.querySelector("[data-testid=reasoning]").hidden,
            };
        }"""
    )
    assert shown == {
        "thinkingHidden": False,
        "thinking": "Let me <b>think</b>. Done.",
        "bold": 0,
        "heading": "Title",
        "reasoningHidden": True,
    }


def test_tool_results_without_a_start_event_and_unknown_events_still_render(loaded):
    shown = loaded.evaluate(
        """async () => {
            const { ReasoningView } = await import("/static/reasoning.js");
            const turn = document.getElementById("assistant-turn").content.firstElementChild.cloneNode(true);
            document.body.append(turn);
            const view = new ReasoningView(turn.querySelector(".reasoning"));
            view.apply({ type: "something_new", step_iteration: 1, metadata: {} });
            view.apply({ type: "tool_result", step_iteration: 1, metadata: { tool_results: [
                { tool_name: "teleport", success: false, result: null, error: "unknown tool", execution_time_ms: 0 },
            ] } });
            view.apply({ type: "error", metadata: {}, error: { message: "the model gave up", type: "step_error" } });
            const call = turn.querySelector("[data-testid=tool-call]");
            return {
                tool: call.dataset.tool,
                state: call.dataset.state,
                outcome: call.querySelector("[data-testid=tool-outcome]").textContent,
                error: turn.querySelector("[data-testid=reasoning-error]").textContent,
            };
        }"""
    )
    assert shown == {
        "tool": "teleport",
        "state": "failed",
        "outcome": "✗ failed · 0 ms",
        "error": "Error: the model gave up",
    }
