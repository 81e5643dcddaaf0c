"""The chat page on a phone (390x844) and on a desktop (1280x900), in a real browser against the
real stack: it fits the width, the settings fold into a drawer that still sets the request,
and everything one taps is big enough. Screenshots: web-client-phone-*.png, web-client-desktop.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.support.chat_page import marker, send

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TOUCH_TARGET_PX = 44


def overflow(page: Page) -> dict[str, int]:
    """How wide the document is against the window: wider means the page scrolls sideways."""
    return page.evaluate(
        "() => { const root = document.documentElement;"
        " return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth }; }"
    )


def assert_fits(page: Page, when: str) -> None:
    widths = overflow(page)
    print(f"{when}: {widths}")
    assert widths["scrollWidth"] <= widths["clientWidth"], f"{when}: the page scrolls sideways: {widths}"


def assert_tappable(*controls: Locator) -> None:
    for control in controls:
        box = control.bounding_box()
        assert box is not None, f"{control} is not shown"
        assert box["height"] >= TOUCH_TARGET_PX, f"{control} is {box['height']} px tall (< {TOUCH_TARGET_PX})"


def test_on_a_phone_the_page_fits_and_the_settings_are_a_drawer(page, web_client):
    page.set_viewport_size(PHONE)
    page.goto(web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    assert_fits(page, "phone, empty page")

    # The settings are folded away behind a real button that says what it controls.
    toggle = page.get_by_test_id("settings-toggle")
    settings = page.get_by_test_id("settings")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-controls", "settings")
    expect(settings).to_be_hidden()

    # The composer takes the width; Send is on screen and big enough to tap.
    prompt, send_button = page.get_by_test_id("prompt"), page.get_by_test_id("send")
    expect(prompt).to_be_in_viewport()
    expect(send_button).to_be_in_viewport(ratio=1)
    prompt_box = prompt.bounding_box()
    print(f"phone: prompt {prompt_box['width']:.0f} px wide of {PHONE['width']}")
    assert prompt_box["width"] >= PHONE["width"] * 0.6
    assert_tappable(toggle, page.get_by_test_id("new-chat"), send_button)

    # Open the drawer: the first setting gets the focus; a passthrough answer, to prove the setting applies.
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(settings).to_be_visible()
    expect(page.get_by_test_id("routing-mode")).to_be_focused()
    assert_tappable(*(page.get_by_test_id(name) for name in ("routing-mode", "model-input", "temperature")))
    page.get_by_test_id("routing-mode").select_option("passthrough")
    page.get_by_test_id("model-input").fill("fake-model")
    assert_fits(page, "phone, settings open")
    page.screenshot(path=ARTIFACTS / "web-client-phone-settings.png")
    toggle.click()  # closes it again
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(settings).to_be_hidden()
    toggle.click()
    page.mouse.click(PHONE["width"] - 10, PHONE["height"] // 2)  # a tap in the conversation, beside the drawer
    expect(settings).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    tag = marker()
    turn = send(page, f"Hello from a phone {tag}")
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("answer")).to_have_text(f"Echo: Hello from a phone {tag}")
    expect(turn.get_by_test_id("routing-path")).to_have_text("passthrough")

    # Back to reasoning in the drawer, closed with Esc (the focus returns to its button).
    toggle.click()
    page.get_by_test_id("routing-mode").select_option("reasoning")
    page.get_by_test_id("model-input").fill("fake-model+agent=weather")
    page.keyboard.press("Escape")
    expect(settings).to_be_hidden()
    expect(toggle).to_be_focused()
    turn = send(page, f"What is the weather in Paris? {tag}")
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("routing-path")).to_have_text("reasoning")
    expect(turn.get_by_test_id("tool-call")).to_have_attribute("data-state", "ok")
    expect(turn.get_by_test_id("answer")).to_contain_text("Echo: What is the weather in Paris?")
    # Tool arguments and results, request ids: long lines wrap, the page still fits.
    assert_fits(page, "phone, after a reasoning answer")
    page.screenshot(path=ARTIFACTS / "web-client-phone-reasoning.png")

    # The same page on a desktop: two columns, the settings always shown, no drawer button.
    page.set_viewport_size(DESKTOP)
    expect(toggle).to_be_hidden()
    expect(settings).to_be_visible()
    box = settings.bounding_box()
    print(f"desktop: settings column {box['width']:.0f} px")
    assert box["width"] == 290
    assert_fits(page, "desktop")
    page.screenshot(path=ARTIFACTS / "web-client-desktop.png")
