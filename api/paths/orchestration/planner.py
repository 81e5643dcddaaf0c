"""The plan: one structured-output LLM call, validated, retried once with the problem shown.

The reply must parse as a `Plan` and pass `plan_problems` (known agents, no cycle, at most
ORCHESTRATION_MAX_TASKS tasks); the second invalid reply is `PlanFailed`, which ends the
orchestration like a reasoning step (`step_error`). An upstream failure is not caught here:
the first call failing is the request's HTTP error.
"""

from __future__ import annotations

from collections.abc import Mapping

from api.paths.base import ChatCall
from api.paths.orchestration.agents import Agent
from api.paths.orchestration.conversation import plan_messages
from api.paths.orchestration.plan import Plan, plan_problems, plan_response_format
from api.paths.reasoning.conversation import STEP_SAMPLING, retry_messages, sampling
from api.paths.reasoning.llm import AgentLLM
from api.paths.reasoning.steps import StepInvalid, parse_reply


class PlanFailed(Exception):
    """The model failed to produce a valid plan twice in a row."""


class Planner:
    def __init__(self, llm: AgentLLM, *, max_tasks: int, plan_format: str) -> None:
        self.llm = llm
        self.max_tasks = max_tasks
        self.response_format = plan_response_format(plan_format)

    async def plan(self, call: ChatCall, agents: Mapping[str, Agent]) -> Plan:
        messages = plan_messages(call.body["messages"], agents, self.max_tasks)
        params = {**sampling(call.body, STEP_SAMPLING), "response_format": self.response_format}
        reply = await self.llm.complete(call, messages, params, "plan")
        try:
            return self.valid_plan(reply, agents)
        except StepInvalid as first:
            retry = retry_messages(messages, reply, str(first), "orchestration_retry")
            reply = await self.llm.complete(call, retry, params, "plan retry")
            try:
                return self.valid_plan(reply, agents)
            except StepInvalid as second:
                raise PlanFailed(f"the model did not produce a valid plan after a retry: {second}") from second

    def valid_plan(self, reply: str, agents: Mapping[str, Agent]) -> Plan:
        plan = parse_reply(reply, Plan, "plan")
        problems = plan_problems(plan, agents, self.max_tasks)
        if problems:
            raise StepInvalid("; ".join(problems))
        return plan
