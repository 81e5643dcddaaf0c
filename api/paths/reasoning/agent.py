"""The reasoning loop: plan a step, run its tools, repeat; then stream the answer.

`ReasoningAgent.run` yields what happens, as it happens: `ReasoningEvent`s, then the
answer as `AnswerText` pieces and one `AnswerEnd`. It knows nothing about SSE or JSON;
the path turns its output into the wire format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from api.mcp.manager import McpManager
from api.observability.metrics import Metrics
from api.observability.tracing import AGENT, CHAIN, Tracing
from api.paths.base import ChatCall
from api.paths.reasoning import events
from api.paths.reasoning.conversation import (
    ANSWER_SAMPLING,
    CompletedStep,
    sampling,
    step_messages,
    synthesis_messages,
)
from api.paths.reasoning.events import ReasoningEvent, StopReason
from api.paths.reasoning.llm import AgentLLM
from api.paths.reasoning.steps import StepFailed, StepGenerator
from api.paths.reasoning.tools import ToolRunner


@dataclass(frozen=True, slots=True)
class AnswerText:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerEnd:
    finish_reason: str


AgentOutput = ReasoningEvent | AnswerText | AnswerEnd


class ReasoningAgent:
    def __init__(
        self,
        llm: AgentLLM,
        mcp: McpManager,
        *,
        max_iterations: int,
        tool_timeout: float,
        max_tools_per_step: int,
        tool_result_max_chars: int,
        step_format: str,
        tracing: Tracing,
        metrics: Metrics,
    ) -> None:
        self.llm = llm
        self.mcp = mcp
        self.max_iterations = max_iterations
        self.tracing = tracing
        self.steps = StepGenerator(llm, step_format)
        self.tools = ToolRunner(
            mcp,
            tool_timeout,
            tracing,
            metrics,
            max_tools=max_tools_per_step,
            max_result_chars=tool_result_max_chars,
        )

    async def run(self, call: ChatCall) -> AsyncIterator[AgentOutput]:
        """The loop, as an AGENT span holding one CHAIN span per step and the answer's LLM span."""
        conversation = call.body["messages"]
        available = self.mcp.tools()  # one snapshot per request: names stay stable within it
        by_name = {tool.name: tool for tool in available}
        history: list[CompletedStep] = []
        stop_reason: StopReason = "max_iterations"
        # Added to, not set: the orchestrator runs several agents on one request's record.
        record = call.record
        record.reasoning_steps, record.tool_calls = record.reasoning_steps or 0, record.tool_calls or 0

        with self.tracing.span("reasoning agent", AGENT) as agent_span:
            self.tracing.set_input(agent_span, conversation)
            for iteration in range(1, self.max_iterations + 1):
                with self.tracing.span(f"step {iteration}", CHAIN) as step_span:
                    yield events.iteration_start(iteration)
                    messages = step_messages(conversation, available, history, self.max_iterations)
                    try:
                        step = await self.steps.next_step(call, messages, iteration)
                    except StepFailed as exc:
                        yield events.error(iteration, str(exc), "step_error")
                        stop_reason = "step_error"
                        break
                    self.tracing.set_output(step_span, step.model_dump())
                    yield events.planning(iteration, step)
                    results = []
                    if step.wants_tools:
                        yield events.tool_execution_start(iteration, step)
                        results = await self.tools.run(step.tools_to_use, step.concurrent_execution, by_name)
                        record.tool_calls += len(results)
                        yield events.tool_result(iteration, results)
                    yield events.iteration_complete(iteration, had_tools=bool(results))
                history.append(CompletedStep(iteration, step, results))
                record.reasoning_steps += 1
                if step.next_action == "finished":
                    stop_reason = "finished"
                    break

            agent_span.set_attribute("gateway.reasoning.stop_reason", stop_reason)
            yield events.reasoning_complete(len(history), stop_reason)
            finish_reason = "stop"
            params = sampling(call.body, ANSWER_SAMPLING)
            answer = synthesis_messages(conversation, history)
            said: list[str] = []
            async for text, finish in self.llm.stream(call, answer, params, "synthesis"):
                if text:
                    said.append(text)
                    yield AnswerText(text)
                finish_reason = finish or finish_reason
            self.tracing.set_output(agent_span, "".join(said))  # the agent's answer, as the request's
            yield AnswerEnd(finish_reason)
