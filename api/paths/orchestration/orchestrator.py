"""The orchestrator: plan, run the tasks, stream the answer, as one AGENT span.

`Orchestrator.run` yields what happens, as it happens: `OrchestrationEvent`s (the plan,
each task's start, updates and result or skip, `orchestration_complete`), then the answer as
`AnswerText` pieces and one `AnswerEnd`, the same outputs as the reasoning agent, so the
reasoning path's wire code serves both. A plan that stays invalid after its retry ends
with an `error` event and `stop_reason: step_error`, then an answer without task results.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing

from api.observability.tracing import AGENT, Tracing
from api.paths.base import ChatCall
from api.paths.orchestration import events
from api.paths.orchestration.agents import Agent
from api.paths.orchestration.conversation import synthesis_messages
from api.paths.orchestration.events import OrchestrationEvent, TaskOutcome
from api.paths.orchestration.executor import Executor
from api.paths.orchestration.planner import PlanFailed, Planner
from api.paths.reasoning.agent import AnswerEnd, AnswerText
from api.paths.reasoning.conversation import ANSWER_SAMPLING, sampling
from api.paths.reasoning.llm import AgentLLM

COMPONENT = "orchestrator"

OrchestratorOutput = OrchestrationEvent | AnswerText | AnswerEnd


class Orchestrator:
    def __init__(
        self, llm: AgentLLM, agents: Mapping[str, Agent], planner: Planner, executor: Executor, tracing: Tracing
    ) -> None:
        self.llm = llm  # the planner's and the answer's calls (component `orchestrator`)
        self.agents = agents
        self.planner = planner
        self.executor = executor
        self.tracing = tracing

    async def run(self, call: ChatCall) -> AsyncIterator[OrchestratorOutput]:
        conversation = call.body["messages"]
        # The agents up now: one that goes down mid-request keeps its tasks (they fail alone).
        agents = dict(self.agents)
        outcomes: dict[str, TaskOutcome] = {}
        tasks = []
        with self.tracing.span("orchestration", AGENT) as span:
            self.tracing.set_input(span, conversation)
            try:
                plan = await self.planner.plan(call, agents)
            except PlanFailed as exc:
                call.record.orchestration_tasks = 0
                yield events.error(str(exc), "step_error")
                yield events.orchestration_complete(0, 0, 0, "step_error")
                span.set_attribute("gateway.orchestration.stop_reason", "step_error")
            else:
                tasks = plan.tasks
                call.record.orchestration_tasks = len(tasks)
                yield events.plan(plan)
                # Closed with this generator: the tasks are cancelled in this task, at once.
                async with aclosing(self.executor.run(plan, agents, call, outcomes)) as running:
                    async for event in running:
                        yield event
                skipped = sum(1 for o in outcomes.values() if o.skipped)
                failed = sum(1 for o in outcomes.values() if not o.success) - skipped
                span.set_attributes({"gateway.orchestration.tasks": len(tasks), "gateway.orchestration.failed": failed})
                yield events.orchestration_complete(len(tasks), failed, skipped, "finished")
            finish_reason = "stop"
            answer = synthesis_messages(conversation, tasks, outcomes)
            async for text, finish in self.llm.stream(call, answer, sampling(call.body, ANSWER_SAMPLING), "synthesis"):
                if text:
                    yield AnswerText(text)
                finish_reason = finish or finish_reason
            yield AnswerEnd(finish_reason)
