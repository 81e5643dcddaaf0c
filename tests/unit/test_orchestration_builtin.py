"""The built-in `reasoning` agent on one task: its nested events as progress, its answer as the
result, a loop ending in step_error as a failed task (over a scripted loop in the agent's place)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from api.paths.orchestration.agents import DependencyResult, Finished, Progress, TaskContext, TaskFailed
from api.paths.orchestration.builtin import ReasoningTaskAgent
from api.paths.orchestration.plan import PlannedTask
from api.paths.reasoning import events
from api.paths.reasoning.agent import AnswerEnd, AnswerText
from api.paths.reasoning.schema import ReasoningStep, ToolPrediction

TASK = PlannedTask(id="t2", agent="reasoning", instruction="Weather in Paris?", depends_on=["t1"])
STEP = ReasoningStep(
    thought="Look it up.", next_action="use_tools", tools_to_use=[ToolPrediction(tool_name="get_weather")]
)


class ScriptedLoop:
    """Stands in for ReasoningAgent: records the call it was given and plays `outputs`."""

    def __init__(self, outputs: list) -> None:
        self.outputs = outputs
        self.calls: list = []
        self.mcp = SimpleNamespace(tools=lambda: [SimpleNamespace(name="get_weather")])

    async def run(self, call):
        self.calls.append(call)
        for output in self.outputs:
            yield output


def context() -> TaskContext:
    parent = SimpleNamespace(body={"model": "gpt-4o", "temperature": 0, "messages": []}, request=None, decision=None)
    parent.record = SimpleNamespace()
    return TaskContext(parent, (DependencyResult("t1", "reasoning", "It is sunny."),))  # type: ignore[arg-type]


async def collect(agent: ReasoningTaskAgent) -> list:
    return [update async for update in agent.run(TASK, context())]


async def test_the_loop_runs_on_the_task_and_its_steps_become_progress():
    loop = ScriptedLoop(
        [
            events.iteration_start(1),
            events.planning(1, STEP),
            events.tool_execution_start(1, STEP),
            events.iteration_complete(1, had_tools=True),
            events.reasoning_complete(1, "finished"),
            AnswerText("Sunny, "),
            AnswerText("31 °C."),
            AnswerEnd("stop"),
        ]
    )
    agent = ReasoningTaskAgent(loop)  # type: ignore[arg-type]
    updates = await collect(agent)
    assert updates == [
        Progress("Look it up.\nNext: use get_weather.", {"reasoning_event": "planning"}),
        Progress("Calling get_weather() in order.", {"reasoning_event": "tool_execution_start"}),
        Finished("Sunny, 31 °C."),
    ]
    (call,) = loop.calls
    assert call.body["temperature"] == 0  # the request's sampling, the task's own messages
    assert call.body["messages"][-1] == {"role": "user", "content": "Weather in Paris?"}
    assert "From task t1 (reasoning): It is sunny." in call.body["messages"][0]["content"]
    assert "get_weather" in agent.description


async def test_a_loop_ending_in_step_error_fails_the_task_with_its_reason():
    loop = ScriptedLoop(
        [
            events.iteration_start(1),
            events.error(1, "the model did not produce a valid step after a retry: not JSON", "step_error"),
            events.reasoning_complete(0, "step_error"),
            AnswerText("never used"),
        ]
    )
    shown: list = []

    async def follow() -> None:
        async for update in ReasoningTaskAgent(loop).run(TASK, context()):  # type: ignore[arg-type]
            shown.append(update)

    with pytest.raises(TaskFailed, match="valid step after a retry: not JSON"):
        await follow()
    assert shown == []  # the error is the task's failure, shown once as its result, not as progress too


async def test_an_error_the_loop_recovers_from_is_still_progress():
    loop = ScriptedLoop(
        [
            events.error(1, "tool get_weather failed: timeout", "tool_error"),
            events.planning(2, STEP),
            events.reasoning_complete(2, "finished"),
            AnswerText("Sunny."),
        ]
    )
    updates = await collect(ReasoningTaskAgent(loop))  # type: ignore[arg-type]
    assert [type(update).__name__ for update in updates] == ["Progress", "Progress", "Finished"]
    assert "get_weather failed" in updates[0].message
