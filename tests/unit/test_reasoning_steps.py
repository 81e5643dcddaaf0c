"""Parsing the model's step reply: valid, fenced, invalid JSON, schema violations."""

import pytest

from api.paths.reasoning.schema import step_response_format
from api.paths.reasoning.steps import StepInvalid, parse_step

VALID = '{"thought": "t", "next_action": "use_tools", "tools_to_use": [{"tool_name": "a", "arguments": {"x": 1}}]}'


def test_a_valid_step():
    step = parse_step(VALID)
    assert step.wants_tools
    assert step.tools_to_use[0].arguments == {"x": 1}
    assert step.concurrent_execution is False


def test_a_code_fence_is_tolerated():
    assert parse_step(f"```json\n{VALID}\n```").thought == "t"


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("I think 42.", "not JSON"),
        ('{"thought": "t", "next_action": "dance"}', "next_action"),
        ('{"next_action": "finished"}', "thought"),
        ('{"thought": "t", "next_action": "use_tools", "tools_to_use": ["a"]}', "tools_to_use.0"),
    ],
)
def test_invalid_replies_say_what_is_wrong(reply, problem):
    with pytest.raises(StepInvalid, match=problem):
        parse_step(reply)


def test_use_tools_without_tools_does_not_call_tools():
    assert not parse_step('{"thought": "t", "next_action": "use_tools", "tools_to_use": []}').wants_tools


def test_step_formats():
    assert step_response_format("json_object") == {"type": "json_object"}
    schema = step_response_format("json_schema")
    assert schema["type"] == "json_schema"
    assert "next_action" in schema["json_schema"]["schema"]["properties"]
