"""The first thing a newcomer tries on `make run-demo`, in a real browser: a reasoning question to
gpt-4o-mini (no `agent=` directive, so the fake model plays its demo agent), answered from the
demo MCP server's weather tool. Screenshots at desktop and phone sizes."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS
from tests.support.chat_page import open_chat, send

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def test_the_demo_agent_answers_the_weather_in_fahrenheit_from_its_tool(page, web_client):
    open_chat(page, web_client, mode="reasoning", model="gpt-4o-mini")
    turn = send(page, "What is the weather in Paris, in Fahrenheit?")

    expect(turn).to_have_attribute("data-state", "done", timeout=60_000)  # a cold LiteLLM is slow on a busy machine
    call = turn.get_by_test_id("tool-call")
    expect(call).to_have_attribute("data-tool", "get_weather")
    expect(call).to_have_attribute("data-state", "ok")
    expect(call.get_by_test_id("tool-args")).to_contain_text('"city": "Paris"')
    weather = json.loads(call.get_by_test_id("tool-result").inner_text())  # the demo MCP server's answer
    fahrenheit = f"{weather['temperature_c'] * 9 / 5 + 32:.1f} °F"
    answer = turn.get_by_test_id("answer")
    expect(answer).to_contain_text(f"In Paris it is {fahrenheit} ({weather['temperature_c']:.1f} °C)")
    expect(turn.get_by_test_id("reasoning-summary")).to_have_text("· 2 steps, finished")
    print(f"tool: {weather}; answer: {answer.inner_text()!r}")

    # As a reader sees the page: the conversation scrolled to its end, the window not scrolled sideways.
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        page.get_by_test_id("conversation").evaluate("list => { list.scrollTop = list.scrollHeight; }")
        expect(answer).to_be_in_viewport()
        page.screenshot(path=ARTIFACTS / f"demo-agent-{name}.png")
