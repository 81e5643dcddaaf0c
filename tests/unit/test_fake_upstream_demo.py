"""The fake model's demo agent (scripts/fake_demo_agent.py, played by scripts/fake_upstream.py):
the tools it picks from a question, and the answer it writes from what they returned."""

from __future__ import annotations

import json

import pytest

from api.mcp.connection import ToolOutcome
from api.paths.reasoning.conversation import CompletedStep, step_messages, synthesis_messages
from api.paths.reasoning.events import ToolCallResult
from api.paths.reasoning.schema import ReasoningStep, ToolPrediction
from tests.support.scripts import load_script

demo = load_script("fake_demo_agent")
fake = load_script("fake_upstream")
tools_server = load_script("demo_mcp_server")

PARIS_F = "What is the weather in Paris, in Fahrenheit?"


# ---- which tools a question needs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "calls"),
    [
        (PARIS_F, [("get_weather", {"city": "Paris"})]),
        ("is it raining in tokyo?", [("get_weather", {"city": "Tokyo"})]),
        ("Weather in Reykjavik please", [("get_weather", {"city": "Reykjavik"})]),
        ("What's the weather like?", [("get_weather", {"city": "Paris"})]),
        ("What time is it in Tokyo?", [("get_current_time", {"timezone": "Asia/Tokyo"})]),
        ("What time is it in America/Denver?", [("get_current_time", {"timezone": "America/Denver"})]),
        ("What time is it in Springfield?", [("get_current_time", {"timezone": "UTC"})]),
        ("What is the stock price of ACME?", [("get_stock_price", {"symbol": "ACME"})]),
        ("How is the Apple stock doing?", [("get_stock_price", {"symbol": "AAPL"})]),
        ("Convert 5 km to miles", [("convert_units", {"value": 5.0, "from_unit": "km", "to_unit": "mi"})]),
        ("How many feet are in 3 metres?", [("convert_units", {"value": 3.0, "from_unit": "m", "to_unit": "ft"})]),
        ("Convert 100 fahrenheit to celsius", [("convert_units", {"value": 100.0, "from_unit": "f", "to_unit": "c"})]),
        (
            "What is the weather and the time in Paris?",
            [("get_weather", {"city": "Paris"}), ("get_current_time", {"timezone": "Europe/Paris"})],
        ),
        ("Hello! Who are you?", []),
        ("What is the price of happiness?", []),  # a price, but no ticker
    ],
)
def test_the_demo_picks_its_tools_from_the_question(question, calls):
    assert [(name, args) for name, args, _ in demo.plan(question)] == calls


def test_a_tool_question_is_one_tool_step_then_finished():
    first, last = (ReasoningStep.model_validate(s) for s in demo.demo_script(PARIS_F))
    assert (first.next_action, [t.tool_name for t in first.tools_to_use]) == ("use_tools", ["get_weather"])
    assert "°F" in first.thought  # the user sees why: the tool answers in °C
    assert not first.concurrent_execution
    assert last.next_action == "finished"


def test_independent_tools_run_concurrently():
    (first, _) = demo.demo_script("What is the weather and the time in Paris?")
    assert first["concurrent_execution"] is True


def test_a_question_no_tool_helps_with_is_answered_directly():
    (only,) = (ReasoningStep.model_validate(s) for s in demo.demo_script("Hello!"))
    assert (only.next_action, only.tools_to_use) == ("finished", [])


# ---- the answer, from what the tools returned -----------------------------------------------


def finding(tool: str, arguments: dict, result: object):
    return demo.Finding(tool, arguments, result=json.dumps(result))


def test_the_weather_in_fahrenheit_is_computed_from_the_tools_celsius():
    weather = tools_server.weather("Paris")
    text = demo.answer([finding("get_weather", {"city": "Paris"}, weather)], PARIS_F)
    fahrenheit = round(weather["temperature_c"] * 9 / 5 + 32, 1)
    assert text == (
        f"In Paris it is {fahrenheit:.1f} °F ({weather['temperature_c']:.1f} °C) and {weather['condition']}, "
        f"with {weather['humidity_percent']}% humidity."
    )


def test_the_weather_in_celsius_unless_asked_otherwise():
    weather = {"city": "Oslo", "temperature_c": -3.5, "condition": "snow", "humidity_percent": 80}
    text = demo.answer([finding("get_weather", {"city": "Oslo"}, weather)], "Weather in Oslo?")
    assert text == "In Oslo it is -3.5 °C and snow, with 80% humidity."


def test_stock_units_time_and_failures_read_as_sentences():
    findings = [
        finding("get_stock_price", {"symbol": "ACME"}, tools_server.stock_price("ACME")),
        finding(
            "convert_units", {"value": 5.0, "from_unit": "km", "to_unit": "mi"}, tools_server.convert(5, "km", "mi")
        ),
        finding(
            "get_current_time",
            {"timezone": "Asia/Tokyo"},
            {"timezone": "Asia/Tokyo", "datetime": "2026-12-02T07:05:12+09:00", "day_of_week": "Wednesday"},
        ),
        demo.Finding("convert_units", {"value": 1, "from_unit": "m", "to_unit": "parsec"}, error="cannot convert"),
        demo.Finding("lookup", {}, result="plain text"),
    ]
    price = tools_server.stock_price("ACME")
    assert demo.answer(findings, "anything") == " ".join(
        [
            f"ACME trades at {price['price']} USD, down {-price['change_percent']}% today.",
            "5 km is 3.106856 mi.",
            "In Asia/Tokyo it is 07:05 on Wednesday, 2026-12-02.",
            "I could not use convert_units: cannot convert.",
            "lookup returned: plain text",
        ]
    )


# ---- reading the results from what the reasoning agent sends -------------------------------


def completed(tool: str, arguments: dict, outcome: ToolOutcome) -> CompletedStep:
    prediction = ToolPrediction(tool_name=tool, arguments=arguments)
    step = ReasoningStep(thought="t", next_action="use_tools", tools_to_use=[prediction])
    return CompletedStep(1, step, [ToolCallResult(prediction, outcome)])


def test_findings_are_read_from_the_agents_own_notes():
    """The agent's real message builders (api/paths/reasoning/conversation.py) are what the fake parses."""
    result = json.dumps({"city": "Paris", "note": "a ) → inside"}, ensure_ascii=False)
    history = [
        completed("get_weather", {"city": "Paris"}, ToolOutcome(True, result, None, 3.0)),
        completed("convert_units", {"value": 1}, ToolOutcome(False, None, "cannot convert", 1.0)),
    ]
    conversation = [{"role": "user", "content": PARIS_F}]
    expected = [
        demo.Finding("get_weather", {"city": "Paris"}, result=result),
        demo.Finding("convert_units", {"value": 1}, error="cannot convert"),
    ]
    assert demo.note_findings(synthesis_messages(conversation, history)) == expected
    assert demo.note_findings(step_messages(conversation, [], history, max_iterations=3)) == expected


def test_findings_are_read_from_trailing_tool_messages():
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temperature_c": 20}'},
    ]
    assert demo.tool_findings(messages) == [demo.Finding("get_weather", {"city": "Paris"}, '{"temperature_c": 20}')]
    assert demo.tool_findings(messages[:2]) == []


# ---- the fake model playing it ------------------------------------------------------------


def answer_of(body: dict) -> str:
    return fake.answer_text(body, fake.parse_directives(body["model"]))


def test_the_answer_call_of_the_demo_composes_from_the_tool_results():
    weather = {"city": "Paris", "temperature_c": 20.0, "condition": "sunny", "humidity_percent": 50}
    history = [completed("get_weather", {"city": "Paris"}, ToolOutcome(True, json.dumps(weather), None, 3.0))]
    messages = synthesis_messages([{"role": "user", "content": PARIS_F}], history)
    expected = "In Paris it is 68.0 °F (20.0 °C) and sunny, with 50% humidity."
    assert answer_of({"model": "gpt-4o-mini", "messages": messages}) == expected
    assert answer_of({"model": "fake-model+agent=demo", "messages": messages}) == expected
    # A scripted scenario's answer stays the echo, and so does an answer call without results.
    assert answer_of({"model": "fake-model+agent=weather", "messages": messages}) == f"Echo: {PARIS_F}"
    assert answer_of({"model": "gpt-4o", "messages": synthesis_messages(messages[1:], [])}) == f"Echo: {PARIS_F}"


def test_later_steps_still_see_the_question_behind_the_tool_results():
    history = [completed("get_weather", {"city": "Paris"}, ToolOutcome(True, "{}", None, 3.0))]
    messages = step_messages([{"role": "user", "content": PARIS_F}], [], history, max_iterations=3)
    assert messages[-1]["role"] == "user"  # the tool results, sent as a user message
    assert fake.question_of(messages) == PARIS_F
    step = json.loads(fake.agent_reply({"messages": messages}, fake.parse_directives("gpt-4o")))
    assert step["next_action"] == "finished"


def test_the_first_step_of_the_demo_follows_the_question():
    messages = step_messages([{"role": "user", "content": "What is the stock price of ACME?"}], [], [], 3)
    step = json.loads(fake.agent_reply({"messages": messages}, fake.parse_directives("gpt-4o-mini")))
    assert step["tools_to_use"][0]["tool_name"] == "get_stock_price"
    assert step["tools_to_use"][0]["arguments"] == {"symbol": "ACME"}


WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def test_right_after_a_tool_result_the_fake_answers_in_text_not_another_call():
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    body = {"model": "gpt-4o", "messages": messages, "tools": [WEATHER_TOOL], "tool_choice": "required"}
    first = fake.completion(body, fake.parse_directives("gpt-4o"), 0)["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    result = {"city": "Paris", "temperature_c": 20.0, "condition": "sunny", "humidity_percent": 50}
    body["messages"] = [
        *messages,
        first["message"],
        {"role": "tool", "tool_call_id": first["message"]["tool_calls"][0]["id"], "content": json.dumps(result)},
    ]
    second = fake.completion(body, fake.parse_directives("gpt-4o"), 0)["choices"][0]
    assert second["finish_reason"] == "stop"
    assert second["message"]["content"] == "In Paris it is 20.0 °C and sunny, with 50% humidity."
    frames = b"".join(fake.stream_frames(body, fake.parse_directives("gpt-4o"), 0))
    assert b"tool_calls" not in frames
    assert b'"finish_reason":"stop"' in frames
