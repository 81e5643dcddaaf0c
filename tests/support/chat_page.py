"""Driving the web client's chat page in Playwright: what every browser test does first."""

from __future__ import annotations

import uuid

from playwright.sync_api import Locator, Page, expect


def marker() -> str:
    """A unique word to find this test's request at the fake model."""
    return f"w-{uuid.uuid4().hex[:10]}"


def open_chat(page: Page, web_client, *, mode: str, model: str) -> None:
    """Open the page at `web_client.url`, wait for the gateway's models, pick mode and model."""
    page.goto(web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    page.get_by_test_id("routing-mode").select_option(mode)
    page.get_by_test_id("model-input").fill(model)


def send(page: Page, text: str) -> Locator:
    """Type `text`, send it, and return the new answer's turn."""
    page.get_by_test_id("prompt").fill(text)
    page.get_by_test_id("send").click()
    return page.get_by_test_id("assistant-turn").last
