"""What each agent call sends: the whole conversation, the steps so far, the client's sampling."""

from api.mcp.connection import ToolOutcome
from api.mcp.manager import ToolSpec
from api.paths.reasoning.conversation import (
    ANSWER_SAMPLING,
    STEP_SAMPLING,
    CompletedStep,
    retry_messages,
    sampling,
    step_messages,
    synthesis_messages,
)
from api.paths.reasoning.events import ToolCallResult
from api.paths.reasoning.steps import parse_step

CONVERSATION = [
    {"role": "system", "content": "Answer in French."},
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": "Where?"},
    {"role": "user", "content": [{"type": "text", "text": "Paris"}]},
]
TOOLS = [ToolSpec("get_weather", "demo", "get_weather", "Weather for a city", {"type": "object"})]
STEP = parse_step(
    '{"thought": "t", "next_action": "use_tools",'
    ' "tools_to_use": [{"tool_name": "get_weather", "arguments": {"city": "Paris"}}]}'
)
HISTORY = [CompletedStep(1, STEP, [ToolCallResult(STEP.tools_to_use[0], ToolOutcome(True, '{"temp": 20}', None, 3.0))])]


def test_step_messages_keep_the_whole_conversation_after_the_instructions():
    messages = step_messages(CONVERSATION, TOOLS, [], max_iterations=5)
    assert messages[0]["role"] == "system"
    assert "get_weather" in messages[0]["content"]
    assert "at most 5 steps" in messages[0]["content"]
    assert messages[1:] == CONVERSATION


def test_step_messages_add_previous_steps_and_their_tool_results():
    messages = step_messages(CONVERSATION, TOOLS, HISTORY, max_iterations=5)
    assert messages[-2] == {"role": "assistant", "content": STEP.model_dump_json()}
    assert messages[-1]["role"] == "user"
    assert '{"temp": 20}' in messages[-1]["content"]


def test_no_tools_is_said_plainly():
    assert "no tools are available" in step_messages(CONVERSATION, [], [], 3)[0]["content"]


def test_retry_shows_the_invalid_reply_and_the_problem():
    retry = retry_messages([{"role": "user", "content": "q"}], "not json", "the reply is not JSON")
    assert retry[-2] == {"role": "assistant", "content": "not json"}
    assert "the reply is not JSON" in retry[-1]["content"]


def test_synthesis_sees_the_conversation_and_the_notes():
    messages = synthesis_messages(CONVERSATION, HISTORY)
    assert messages[1:] == CONVERSATION
    assert '{"temp": 20}' in messages[0]["content"]


def test_sampling_keeps_zero_and_drops_what_a_step_must_not_get():
    body = {"temperature": 0, "top_p": None, "seed": 7, "max_tokens": 5, "logprobs": True}
    assert sampling(body, STEP_SAMPLING) == {"temperature": 0, "seed": 7}
    assert sampling(body, ANSWER_SAMPLING) == {"temperature": 0, "seed": 7, "max_tokens": 5}
