"""The web client's orchestration view in a real browser, against the real stack: web client →
gateway (ORCHESTRATION_ENABLED=true) → LiteLLM → the fake model playing the planner
(`+orchestrate=<scenario>`) and each task's reasoning agent, with the demo MCP server (HTTP) and
mcp-server-time (stdio) as its tools. Screenshots: web-client-orchestration{,-failing,-phone}.png."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import time_server, write_mcp_config
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_web_client_phone import DESKTOP, PHONE, assert_fits
from tests.support.chat_page import marker, open_chat, send
from tests.support.mcp import wait_for_servers

pytestmark = pytest.mark.browser

DONE = re.compile(r"^✓ done · \d+ ms$")
FAILED = re.compile(r"^✗ failed · \d+ ms$")


@pytest.fixture(scope="module")
def orch_gateway(start_gateway, demo_mcp, tmp_path_factory):
    config = write_mcp_config(
        tmp_path_factory.mktemp("web-orch-mcp") / "servers.yaml",
        {"name": "demo", "url": demo_mcp.url + "/mcp"},
        time_server(),
    )
    gateway = start_gateway(
        mcp_servers_config=config, orchestration_enabled="true", tool_timeout_seconds=5, max_reasoning_iterations=4
    )
    wait_for_servers(gateway, {"demo": "up", "time": "up"})
    return gateway


@pytest.fixture(scope="module")
def orch_web_client(start_web_client, orch_gateway):
    return start_web_client(orch_gateway)


def task_card(turn: Locator, task_id: str) -> Locator:
    return turn.locator(f"[data-testid=task-card][data-task='{task_id}']")


def ask(page: Page, web_client, scenario: str, question: str) -> Locator:
    open_chat(page, web_client, mode="orchestration", model=f"fake-model+orchestrate={scenario}")
    return send(page, f"{question} {marker()}")


def test_parallel_tasks_show_side_by_side_with_their_results_then_the_answer(page, orch_web_client):
    page.goto(orch_web_client.url)
    # The gateway's /v1/routes says orchestration is enabled: the picker offers it as a path, not a 501.
    option = page.get_by_test_id("routing-mode").locator("option[value=orchestration]")
    expect(option).to_have_attribute("data-path", "enabled")
    expect(option).to_have_text("orchestration (plan + agents)")

    turn = ask(page, orch_web_client, "parallel", "Weather in Paris and the AAPL price?")
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("routing-path")).to_have_text("orchestration")
    expect(turn.get_by_test_id("routing-reason")).to_have_text("header_orchestration")
    section = turn.get_by_test_id("orchestration")
    expect(section).to_be_visible()
    expect(turn.get_by_test_id("reasoning")).to_be_hidden()
    expect(turn.get_by_test_id("thinking")).to_be_hidden()  # the events' reasoning_content is not shown twice
    expect(turn.get_by_test_id("plan-summary")).to_have_text("Plan: 2 tasks on reasoning")
    expect(turn.get_by_test_id("orchestration-summary")).to_have_text("· 2 tasks, finished")

    cards = turn.get_by_test_id("task-card")
    expect(cards).to_have_count(2)
    weather, stock = task_card(turn, "t1"), task_card(turn, "t2")
    for card in (weather, stock):
        expect(card).to_have_attribute("data-state", "done")
        expect(card).to_have_attribute("data-agent", "reasoning")
        expect(card.get_by_test_id("step-status")).to_have_text(DONE)
        expect(card.get_by_test_id("task-agent")).to_have_text("agent: reasoning")
        # The nested reasoning agent's progress: its thought, its tool call, the tool's result.
        assert card.get_by_test_id("task-update").count() >= 2
    expect(weather.get_by_test_id("task-instruction")).to_have_text("What is the weather in Paris?")
    expect(weather.get_by_test_id("task-updates")).to_contain_text("get_weather")
    expect(weather.get_by_test_id("task-result")).to_contain_text("Paris")
    expect(stock.get_by_test_id("task-updates")).to_contain_text("get_stock_price")
    expect(stock.get_by_test_id("task-result")).to_contain_text("AAPL")

    # Side by side on a desktop: the same row, two columns.
    one, two = weather.bounding_box(), stock.bounding_box()
    print(f"desktop task cards: t1 {one}, t2 {two}")
    assert abs(one["y"] - two["y"]) < 1
    assert two["x"] >= one["x"] + one["width"]

    # The answer (the fake model joins the task results it was given), below the cards.
    answer = turn.get_by_test_id("answer")
    expect(answer).to_contain_text("Paris")
    expect(answer).to_contain_text("AAPL")
    assert section.bounding_box()["y"] + section.bounding_box()["height"] <= answer.bounding_box()["y"]
    assert_fits(page, "desktop, orchestration")
    page.screenshot(path=ARTIFACTS / "web-client-orchestration.png", full_page=True)

    # Kept with the conversation: after a reload the stored events draw the same cards.
    page.reload()
    restored = page.get_by_test_id("assistant-turn").last
    expect(restored.get_by_test_id("task-card")).to_have_count(2)
    expect(task_card(restored, "t1")).to_have_attribute("data-state", "done")
    expect(task_card(restored, "t2").get_by_test_id("task-result")).to_contain_text("AAPL")
    expect(restored.get_by_test_id("orchestration-summary")).to_have_text("· 2 tasks, finished")


def test_a_failing_task_shows_its_error_and_its_dependant_is_skipped(page, orch_web_client):
    turn = ask(page, orch_web_client, "failing", "Find out three things.")
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("task-card")).to_have_count(3)
    expect(turn.get_by_test_id("plan-summary")).to_have_text("Plan: 3 tasks on reasoning · t3 after t2")

    ok, failed, skipped = (task_card(turn, t) for t in ("t1", "t2", "t3"))
    expect(ok).to_have_attribute("data-state", "done")
    expect(failed).to_have_attribute("data-state", "failed")
    expect(failed.get_by_test_id("step-status")).to_have_text(FAILED)
    expect(failed.get_by_test_id("task-error")).not_to_be_empty()
    expect(failed.get_by_test_id("task-result")).to_have_count(0)
    reason = failed.get_by_test_id("task-error").inner_text()
    assert failed.inner_text().count(reason) == 1, "the reason is shown once, not also as a progress line"
    expect(skipped).to_have_attribute("data-state", "skipped")
    expect(skipped.get_by_test_id("step-status")).to_have_text("skipped")
    expect(skipped.get_by_test_id("task-agent")).to_have_text("agent: reasoning · after t2")
    expect(skipped.get_by_test_id("task-skipped")).to_have_text("Skipped: depends on t2, which did not succeed.")
    expect(turn.get_by_test_id("orchestration-summary")).to_have_text("· 3 tasks, 1 failed, 1 skipped, finished")
    # The answer is written from what succeeded.
    expect(turn.get_by_test_id("answer")).to_contain_text("Paris")
    expect(turn.get_by_test_id("error")).to_be_hidden()  # a failed task is not a failed answer
    print(f"failed task's error: {failed.get_by_test_id('task-error').inner_text()!r}")
    page.screenshot(path=ARTIFACTS / "web-client-orchestration-failing.png", full_page=True)


def test_on_a_phone_the_task_cards_stack_and_the_page_fits(page, orch_web_client):
    page.set_viewport_size(DESKTOP)
    open_chat(page, orch_web_client, mode="orchestration", model="fake-model+orchestrate=failing")
    page.set_viewport_size(PHONE)  # the settings chosen, now the phone's one-column page
    turn = send(page, f"Find out three things. {marker()}")
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.get_by_test_id("task-card")).to_have_count(3)

    boxes = [task_card(turn, t).bounding_box() for t in ("t1", "t2", "t3")]
    print(f"phone task cards: {boxes}")
    for upper, lower in itertools.pairwise(boxes):  # stacked
        assert abs(upper["x"] - lower["x"]) < 1
        assert lower["y"] >= upper["y"] + upper["height"]
        assert upper["x"] + upper["width"] <= PHONE["width"]
    summary = task_card(turn, "t1").locator("summary").bounding_box()
    assert summary["height"] >= 44  # a card folds with a tap
    assert_fits(page, "phone, orchestration")
    turn.evaluate("turn => turn.scrollIntoView({ block: 'start' })")  # the plan and the first cards in the picture
    page.screenshot(path=ARTIFACTS / "web-client-orchestration-phone.png", full_page=True)


def test_stop_mid_orchestration_leaves_no_task_running(page, orch_web_client):
    # Both tasks call the demo server's 30 s slow_operation: they are running when Stop is pressed.
    turn = ask(page, orch_web_client, "slow", "Run two slow things.")
    cards = turn.get_by_test_id("task-card")
    expect(cards).to_have_count(2)
    for card in (task_card(turn, "t1"), task_card(turn, "t2")):
        expect(card).to_have_attribute("data-state", "running")
        expect(card.get_by_test_id("task-updates")).to_contain_text("slow_operation")

    page.get_by_test_id("stop").click()

    expect(turn).to_have_attribute("data-state", "stopped")
    for card in (task_card(turn, "t1"), task_card(turn, "t2")):
        expect(card).to_have_attribute("data-state", "stopped")
        expect(card.get_by_test_id("step-status")).to_have_text("stopped")
    expect(turn.get_by_test_id("orchestration-summary")).to_have_text("· stopped")
    expect(turn.get_by_test_id("stopped")).to_be_visible()


def test_events_before_the_plan_unknown_events_and_an_orchestration_error_still_render(page, orch_web_client):
    page.goto(orch_web_client.url)
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    shown = page.evaluate(
        """async () => {
            const { OrchestrationView } = await import("/static/orchestration.js");
            const turn = document.getElementById("assistant-turn").content.firstElementChild.cloneNode(true);
            document.body.append(turn);
            const view = new OrchestrationView(turn.querySelector(".orchestration"));
            view.apply({ type: "something_new", metadata: {} });
            view.apply({ type: "task_update", task_id: "x", agent: "remote", metadata: { message: "working" } });
            const problem = { message: "the plan was invalid twice", type: "step_error" };
            view.apply({ type: "error", metadata: {}, error: problem });
            view.apply({ type: "orchestration_complete", metadata: {
                total_tasks: 0, failed_tasks: 0, skipped_tasks: 0, stop_reason: "step_error" } });
            view.settle(null);
            const card = turn.querySelector("[data-testid=task-card]");
            return {
                hidden: turn.querySelector("[data-testid=orchestration]").hidden,
                task: card.dataset.task,
                agent: card.querySelector("[data-testid=task-agent]").textContent,
                update: card.querySelector("[data-testid=task-update]").textContent,
                error: turn.querySelector("[data-testid=orchestration-error]").textContent,
                summary: turn.querySelector("[data-testid=orchestration-summary]").textContent,
            };
        }"""
    )
    assert shown == {
        "hidden": False,
        "task": "x",
        "agent": "agent: remote",
        "update": "working",
        "error": "Error: the plan was invalid twice",
        "summary": "· 0 tasks, step error",
    }
