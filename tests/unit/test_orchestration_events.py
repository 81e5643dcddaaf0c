"""Orchestration events on the wire and as thinking text, and the messages each call sends (pure)."""

from __future__ import annotations

import orjson

from api.paths.orchestration import events
from api.paths.orchestration.agents import DependencyResult
from api.paths.orchestration.conversation import synthesis_messages, task_messages
from api.paths.orchestration.events import TaskOutcome
from api.paths.orchestration.plan import Plan, PlannedTask
from api.paths.reasoning.wire import ChunkWriter, completion, usage_totals

T1 = PlannedTask(id="t1", agent="reasoning", instruction="What is the weather in Paris?")
T2 = PlannedTask(id="t2", agent="reasoning", instruction="And in Fahrenheit?", depends_on=["t1"])
T3 = PlannedTask(id="t3", agent="reasoning", instruction="Compare.", depends_on=["t2"])


def samples() -> list[events.OrchestrationEvent]:
    return [
        events.plan(Plan(tasks=[T1, T2])),
        events.task_start(T1),
        events.task_update(
            T1, 'Calling get_weather(city="Paris") in order.', {"reasoning_event": "tool_execution_start"}
        ),
        events.task_result(T1, TaskOutcome(True, "31.1 °C, partly cloudy", None, 812.345)),
        events.task_result(T2, TaskOutcome(False, None, "timed out after 1 s", 1000.0)),
        events.task_skipped(T3, ["t2"]),
        events.orchestration_complete(3, 1, 1, "finished"),
        events.error("the model did not produce a valid plan after a retry: ...", "step_error"),
    ]


def test_the_wire_form_leaves_nulls_out():
    plan, start, update, result, failed, skipped, complete, error = (e.as_dict() for e in samples())
    assert plan == {"type": "plan", "metadata": {"tasks": [T1.model_dump(), T2.model_dump()]}}
    assert start == {
        "type": "task_start",
        "task_id": "t1",
        "agent": "reasoning",
        "metadata": {"instruction": "What is the weather in Paris?", "depends_on": []},
    }
    assert update["metadata"] == {
        "message": 'Calling get_weather(city="Paris") in order.',
        "reasoning_event": "tool_execution_start",
    }
    assert result["metadata"] == {
        "success": True,
        "result": "31.1 °C, partly cloudy",
        "error": None,
        "execution_time_ms": 812.3,
    }
    assert failed["metadata"]["error"] == "timed out after 1 s"
    assert skipped["metadata"] == {"reason": "depends on t2, which did not succeed", "failed_dependencies": ["t2"]}
    assert complete == {
        "type": "orchestration_complete",
        "metadata": {"total_tasks": 3, "failed_tasks": 1, "skipped_tasks": 1, "stop_reason": "finished"},
    }
    assert error == {
        "type": "error",
        "metadata": {},
        "error": {"message": error["error"]["message"], "type": "step_error"},
    }


def test_each_event_is_one_paragraph_of_thinking():
    texts = [e.text() for e in samples()]
    assert all(t.endswith("\n\n") and "\n\n" not in t[:-2] for t in texts)
    assert texts[0] == (
        "**Plan**: 2 task(s)\n- t1 (reasoning): What is the weather in Paris?\n"
        "- t2 (reasoning, after t1): And in Fahrenheit?\n\n"
    )
    assert texts[1] == "**Task t1** (reasoning) started: What is the weather in Paris?\n\n"
    assert texts[3] == "✓ Task t1 done (812.3 ms): 31.1 °C, partly cloudy\n\n"
    assert texts[4] == "✗ Task t2 failed (1000 ms): timed out after 1 s\n\n"
    assert texts[5] == "Task t3 skipped: depends on t2, which did not succeed.\n\n"
    assert texts[6] == "Orchestration complete: 3 task(s), 1 failed, 1 skipped, finished.\n\n"


def test_chunks_and_the_whole_answer_carry_orchestration_events():
    writer = ChunkWriter("chatcmpl-1", 123, "gpt-4o")
    first = orjson.loads(writer.event(samples()[1]))
    delta = first["choices"][0]["delta"]
    assert delta["role"] == "assistant"
    assert delta["orchestration_event"]["type"] == "task_start"
    assert delta["reasoning_content"].startswith("**Task t1**")
    assert "reasoning_event" not in delta
    body = orjson.loads(
        completion("c", 1, "m", "Answer.", samples()[:2], "stop", usage_totals(1, 2), "orchestration_events")
    )
    message = body["choices"][0]["message"]
    assert [e["type"] for e in message["orchestration_events"]] == ["plan", "task_start"]
    assert message["reasoning_content"].startswith("**Plan**")


def test_a_task_sees_only_its_instruction_and_its_dependencies_results():
    messages = task_messages(T2, [DependencyResult("t1", "reasoning", "31.1 °C")])
    assert messages[-1] == {"role": "user", "content": "And in Fahrenheit?"}
    assert "- From task t1 (reasoning): 31.1 °C" in messages[0]["content"]
    assert "depends on no other task" in task_messages(T1, [])[0]["content"]


def test_the_answer_sees_the_conversation_and_every_tasks_outcome():
    conversation = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Weather?"}]
    outcomes = {
        "t1": TaskOutcome(True, "31.1 °C"),
        "t2": TaskOutcome(False, error="timed out"),
        "t3": TaskOutcome(False, skipped=True),
    }
    messages = synthesis_messages(conversation, [T1, T2, T3], outcomes)
    assert messages[1:] == conversation
    notes = messages[0]["content"]
    assert "- Result of task t1 (reasoning): 31.1 °C" in notes
    assert "- Task t2 (reasoning) failed: timed out" in notes
    assert "- Task t3 (reasoning) was skipped" in notes
    assert "no plan could be made" in synthesis_messages(conversation, [], {})[0]["content"]
