"""Conversations kept in the browser, and each answer's tokens, in a real browser against the real
stack: a reload keeps the conversations and the chosen settings; they can be switched, renamed,
deleted and exported (Markdown, JSON); on a phone the list lives in the drawer and the page still
fits. Screenshots: web-client-history-*.png."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_web_client_phone import PHONE, assert_fits, assert_tappable
from tests.support.chat_page import marker, open_chat, send

pytestmark = pytest.mark.browser

ANSWER_TIMEOUT_MS = 30_000
TOKENS = re.compile(r"^\d+ \+ \d+ = \d+ tokens$")


def ask(page: Page, text: str) -> None:
    turn = send(page, text)
    # The first answer of a fresh stack can take a while (LiteLLM's first request is slow).
    expect(turn).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    expect(turn.get_by_test_id("answer")).to_have_text(f"Echo: {text}")
    expect(turn.get_by_test_id("usage")).to_have_text(TOKENS)


def titles(page: Page) -> list[str]:
    return page.get_by_test_id("history-open").all_inner_texts()


def test_conversations_survive_a_reload_and_can_be_switched_renamed_exported_deleted(page, web_client):
    open_chat(page, web_client, mode="passthrough", model="fake-model")
    page.get_by_test_id("temperature").fill("0.3")
    page.get_by_test_id("system-prompt").fill("Answer briefly.")
    tag = marker()
    ask(page, f"First question {tag}")
    ask(page, f"Second question {tag}")
    page.get_by_test_id("new-chat").click()
    expect(page.get_by_test_id("assistant-turn")).to_have_count(0)
    ask(page, f"Another topic {tag}")
    assert titles(page) == [f"Another topic {tag}", f"First question {tag}"]

    page.reload()
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    assert titles(page) == [f"Another topic {tag}", f"First question {tag}"]
    expect(page.get_by_test_id("history-item").first).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("assistant-turn")).to_have_count(1)
    expect(page.get_by_test_id("answer")).to_have_text(f"Echo: Another topic {tag}")
    expect(page.get_by_test_id("usage")).to_have_text(TOKENS)  # kept with the answer
    # The chosen settings came back too.
    expect(page.get_by_test_id("routing-mode")).to_have_value("passthrough")
    expect(page.get_by_test_id("model-input")).to_have_value("fake-model")
    expect(page.get_by_test_id("temperature")).to_have_value("0.3")
    expect(page.get_by_test_id("system-prompt")).to_have_value("Answer briefly.")

    # Switch back to the first conversation; it goes on where it was (its history is sent).
    page.get_by_test_id("history-open").filter(has_text="First question").click()
    expect(page.get_by_test_id("assistant-turn")).to_have_count(2)
    expect(page.get_by_test_id("user-turn").first).to_have_text(f"First question {tag}")
    ask(page, f"Third question {tag}")
    assert titles(page)[0] == f"First question {tag}"  # the most recent first

    page.once("dialog", lambda dialog: dialog.accept(f"Renamed {tag}"))
    page.get_by_test_id("history-item").first.get_by_test_id("history-rename").click()
    expect(page.get_by_test_id("history-open").first).to_have_text(f"Renamed {tag}")

    with page.expect_download() as download:
        page.get_by_test_id("export-markdown").click()
    assert download.value.suggested_filename == f"renamed-{tag}.md"
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    print(f"markdown export: {len(markdown)} characters, {markdown.count('## You')} questions")
    assert markdown.startswith(f"# Renamed {tag}\n")
    assert markdown.count("## You") == 3
    assert f"Echo: Third question {tag}" in markdown
    with page.expect_download() as download:
        page.get_by_test_id("export-json").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["title"] == f"Renamed {tag}"
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"] * 3
    assert exported["messages"][1]["routing_path"] == "passthrough"
    assert exported["messages"][1]["usage"]["total_tokens"] > 0
    page.screenshot(path=ARTIFACTS / "web-client-history-desktop.png")

    # Delete the other conversation; a cancelled confirmation deletes nothing.
    other = page.get_by_test_id("history-item").filter(has_text="Another topic")
    page.once("dialog", lambda dialog: dialog.dismiss())
    other.get_by_test_id("history-delete").click()
    expect(page.get_by_test_id("history-item")).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    other.get_by_test_id("history-delete").click()
    expect(page.get_by_test_id("history-item")).to_have_count(1)
    page.reload()
    expect(page.get_by_test_id("history-open")).to_have_text([f"Renamed {tag}"])
    expect(page.get_by_test_id("assistant-turn")).to_have_count(3)

    # Deleting the conversation on screen leaves an empty new one.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("history-delete").click()
    expect(page.get_by_test_id("history-item")).to_have_count(0)
    expect(page.get_by_test_id("assistant-turn")).to_have_count(0)
    expect(page.get_by_test_id("export-json")).to_be_disabled()


def test_on_a_phone_the_history_lives_in_the_drawer(page, web_client):
    page.set_viewport_size(PHONE)
    page.goto(web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    toggle = page.get_by_test_id("settings-toggle")
    toggle.click()
    page.get_by_test_id("routing-mode").select_option("reasoning")
    page.get_by_test_id("model-input").fill("fake-model+agent=weather")
    toggle.click()
    tag = marker()
    turn = send(page, f"What is the weather in Paris? {tag} and a long word {'x' * 80}")
    expect(turn).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    expect(turn.get_by_test_id("usage")).to_have_text(TOKENS)  # the reasoning path reports tokens too
    print(f"reasoning answer: {turn.get_by_test_id('usage').inner_text()}")
    page.get_by_test_id("new-chat").click()
    page.get_by_test_id("prompt").fill(f"A second conversation with a title much longer than the drawer {tag}")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("assistant-turn").last).to_have_attribute("data-state", "done")

    toggle.click()
    history = page.get_by_test_id("history")
    expect(history).to_be_visible()
    expect(page.get_by_test_id("history-item")).to_have_count(2)
    assert_fits(page, "phone, history open")
    assert_tappable(
        page.get_by_test_id("history-open").first,
        page.get_by_test_id("history-rename").first,
        page.get_by_test_id("history-delete").first,
        page.get_by_test_id("export-markdown"),
    )
    page.screenshot(path=ARTIFACTS / "web-client-history-phone-drawer.png")

    # A tap on a conversation opens it and puts the drawer away.
    page.get_by_test_id("history-open").filter(has_text="weather").click()
    expect(page.get_by_test_id("settings")).to_be_hidden()
    expect(page.get_by_test_id("tool-call")).to_have_attribute("data-state", "ok")  # its step cards came back
    page.reload()
    expect(page.get_by_test_id("answer")).to_contain_text("Echo: What is the weather in Paris?")
    expect(page.get_by_test_id("tool-call")).to_have_attribute("data-state", "ok")
    assert_fits(page, "phone, after a reload")
    page.screenshot(path=ARTIFACTS / "web-client-history-phone.png")


def test_a_cost_is_shown_only_when_the_gateway_reports_one(page, web_client):
    page.goto(web_client.url)
    shown = page.evaluate(
        """async () => {
            const { usageText } = await import("/static/history.js");
            const usage = { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 };
            return [usageText(usage), usageText({ ...usage, cost_usd: 0.00123 }),
                    usageText({ ...usage, cost_usd: 0.5 }), usageText(null), usageText({ ...usage, cost: 0.00123 })];
        }"""
    )
    assert shown == [
        "12 + 30 = 42 tokens",
        "12 + 30 = 42 tokens · $0.0012",
        "12 + 30 = 42 tokens · $0.5000",
        "",
        "12 + 30 = 42 tokens · $0.0012",  # LiteLLM's own name for it
    ]
