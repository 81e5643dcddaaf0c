"""The built-in `reasoning` agent: our agent loop (ReasoningAgent, its MCP tools) on one task.

Its nested reasoning events become `Progress` (shown as `task_update`): the step's thought
and next action, the tools called, their results; the loop's answer is the task's result.
A loop that ends with `step_error` failed its task (the answer would be written from
nothing), and so does any error of its LLM calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from api.paths.base import ChatCall
from api.paths.orchestration.agents import Finished, Progress, TaskContext, TaskFailed
from api.paths.orchestration.conversation import task_messages
from api.paths.orchestration.plan import PlannedTask
from api.paths.reasoning.agent import AnswerText, ReasoningAgent
from api.paths.reasoning.events import ReasoningEvent

# The reasoning events worth a line of progress; the others (iteration start and end) are
# bookkeeping that would only crowd the task's view.
_SHOWN = ("planning", "tool_execution_start", "tool_result", "error")


class ReasoningTaskAgent:
    name = "reasoning"

    def __init__(self, agent: ReasoningAgent) -> None:
        self.agent = agent

    @property
    def description(self) -> str:
        tools = ", ".join(tool.name for tool in self.agent.mcp.tools()) or "none available right now"
        return (
            "a step-by-step agent that thinks and calls tools to find facts and do calculations "
            f"(tools: {tools}); give it one focused question or job"
        )

    async def run(self, task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
        parent = context.call
        call = ChatCall(
            {**parent.body, "messages": task_messages(task, context.dependencies)},
            parent.request,
            parent.decision,
            parent.record,  # usage, cost, steps and tool calls add up over every task
        )
        answer: list[str] = []
        last_error: str | None = None
        # An error event is held back one event: when the loop then ends in step_error, the
        # error is the task's failure and is shown once, as its result, not also as progress.
        held: Progress | None = None
        async with aclosing(self.agent.run(call)) as outputs:
            async for output in outputs:
                if isinstance(output, AnswerText):
                    answer.append(output.text)
                elif isinstance(output, ReasoningEvent):
                    if output.type == "reasoning_complete" and output.metadata["stop_reason"] == "step_error":
                        raise TaskFailed(last_error or "the reasoning agent could not produce a valid step")
                    if held is not None:
                        yield held
                        held = None
                    if output.error is not None:
                        last_error = output.error["message"]
                    if output.type in _SHOWN:
                        progress = Progress(progress_text(output), {"reasoning_event": output.type})
                        if output.error is not None:
                            held = progress
                        else:
                            yield progress
        if held is not None:
            yield held
        yield Finished("".join(answer))


def progress_text(event: ReasoningEvent) -> str:
    """The reasoning event's own paragraph, on as few lines as it needs (no blank line)."""
    return event.text().strip()
