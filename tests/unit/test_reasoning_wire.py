"""Reasoning events and chunks in the wire format of contract section 4."""

import orjson

from api.mcp.connection import ToolOutcome
from api.paths.reasoning import events
from api.paths.reasoning.events import ToolCallResult, reasoning_text
from api.paths.reasoning.schema import ReasoningStep, ToolPrediction
from api.paths.reasoning.wire import ChunkWriter, completion, usage_totals

STEP = ReasoningStep(
    thought="Look it up.",
    next_action="use_tools",
    tools_to_use=[ToolPrediction(tool_name="get_weather", arguments={"city": "Paris"}, reasoning="need it")],
    concurrent_execution=False,
)


def test_event_metadata_shapes():
    assert events.iteration_start(1).as_dict() == {"type": "iteration_start", "step_iteration": 1, "metadata": {}}
    assert events.planning(1, STEP).as_dict()["metadata"] == {
        "thought": "Look it up.",
        "next_action": "use_tools",
        "tools_planned": ["get_weather"],
    }
    assert events.tool_execution_start(1, STEP).as_dict()["metadata"] == {
        "tool_predictions": [{"tool_name": "get_weather", "arguments": {"city": "Paris"}, "reasoning": "need it"}],
        "concurrent_execution": False,
    }
    result = ToolCallResult(STEP.tools_to_use[0], ToolOutcome(True, '{"t": 20}', None, 12.5))
    assert events.tool_result(1, [result]).as_dict()["metadata"] == {
        "tool_results": [
            {
                "tool_name": "get_weather",
                "success": True,
                "result": '{"t": 20}',
                "error": None,
                "execution_time_ms": 12.5,
            }
        ]
    }
    assert events.iteration_complete(1, had_tools=True).as_dict()["metadata"] == {"had_tools": True}
    assert events.reasoning_complete(2, "finished").as_dict() == {
        "type": "reasoning_complete",
        "metadata": {"total_steps": 2, "stop_reason": "finished"},
    }


def test_error_event_carries_error_and_leaves_out_nulls():
    assert events.error(None, "bad step", "step_error").as_dict() == {
        "type": "error",
        "metadata": {},
        "error": {"message": "bad step", "type": "step_error"},
    }


def test_every_event_text_is_a_paragraph():
    samples = [
        events.iteration_start(1),
        events.planning(1, STEP),
        events.tool_execution_start(1, STEP),
        events.tool_result(1, [ToolCallResult(STEP.tools_to_use[0], ToolOutcome(False, None, "down", 1.0))]),
        events.iteration_complete(1, True),
        events.reasoning_complete(1, "max_iterations"),
        events.error(1, "oops", "step_error"),
    ]
    for event in samples:
        text = reasoning_text(event)
        assert text.endswith("\n\n")
        assert text.strip()
    assert "get_weather" in reasoning_text(samples[2])
    assert "failed" in reasoning_text(samples[3])


def test_long_tool_results_are_shortened_in_the_text_only():
    long = "x" * 5000
    event = events.tool_result(1, [ToolCallResult(STEP.tools_to_use[0], ToolOutcome(True, long, None, 1.0))])
    assert len(reasoning_text(event)) < 1000
    assert event.metadata["tool_results"][0]["result"] == long


def test_chunks_share_id_and_the_first_carries_the_role():
    writer = ChunkWriter("chatcmpl-1", 123, "gpt-4o")
    payloads = [writer.event(events.iteration_start(1)), writer.content("Hi"), writer.finish("stop")]
    chunks = [orjson.loads(p) for p in payloads]
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        ("chatcmpl-1", 123, "gpt-4o", "chat.completion.chunk")
    }
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[0]["choices"][0]["delta"]["reasoning_content"] == "**Step 1**\n\n"
    assert "role" not in chunks[1]["choices"][0]["delta"]
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert chunks[2]["choices"][0]["finish_reason"] == "stop"
    usage = orjson.loads(writer.usage(usage_totals(10, 5)))
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def test_non_streamed_completion_carries_events_and_text():
    body = orjson.loads(completion("c", 1, "m", "The answer.", [events.iteration_start(1)], "stop", usage_totals(1, 2)))
    message = body["choices"][0]["message"]
    assert message["content"] == "The answer."
    assert message["reasoning_content"] == "**Step 1**\n\n"
    assert message["reasoning_events"] == [{"type": "iteration_start", "step_iteration": 1, "metadata": {}}]
    assert body["usage"]["total_tokens"] == 3
