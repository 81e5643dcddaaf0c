"""The messages the orchestrator's LLM calls send (pure): the plan, each task, the answer.

The planner and the answer see the whole conversation as the client sent it, after the
orchestrator's instructions; a task sees only its instruction and its dependencies'
results (an agent, remote ones included, is handed a self-contained job).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from api.paths.orchestration.agents import Agent, DependencyResult
from api.paths.orchestration.events import TaskOutcome
from api.paths.orchestration.plan import Plan, PlannedTask
from api.paths.reasoning.conversation import Message
from api.prompts import render


def agent_catalogue(agents: Mapping[str, Agent]) -> str:
    return "\n".join(f"- {name}: {agent.description.strip() or 'no description'}" for name, agent in agents.items())


def plan_messages(conversation: list[Message], agents: Mapping[str, Agent], max_tasks: int) -> list[Message]:
    instructions = render(
        "orchestration_plan",
        agents=agent_catalogue(agents),
        max_tasks=max_tasks,
        schema=orjson.dumps(Plan.model_json_schema()).decode(),
    )
    return [{"role": "system", "content": instructions}, *conversation]


def task_messages(task: PlannedTask, dependencies: Sequence[DependencyResult]) -> list[Message]:
    results = (
        "\n".join(f"- From task {dep.task_id} ({dep.agent}): {dep.result}" for dep in dependencies)
        or "(none: this task depends on no other task)"
    )
    return [
        {"role": "system", "content": render("orchestration_task", results=results)},
        {"role": "user", "content": task.instruction},
    ]


def synthesis_messages(
    conversation: list[Message], tasks: Sequence[PlannedTask], outcomes: Mapping[str, TaskOutcome]
) -> list[Message]:
    lines = [_result_line(task, outcomes.get(task.id)) for task in tasks]
    results = "\n".join(lines) or "(no plan could be made: answer as well as you can without one)"
    return [{"role": "system", "content": render("orchestration_synthesis", results=results)}, *conversation]


def _result_line(task: PlannedTask, outcome: TaskOutcome | None) -> str:
    if outcome is None or outcome.skipped:
        return f"- Task {task.id} ({task.agent}) was skipped: a task it depends on did not succeed."
    if not outcome.success:
        return f"- Task {task.id} ({task.agent}) failed: {outcome.error}"
    return f"- Result of task {task.id} ({task.agent}): {outcome.result}"
