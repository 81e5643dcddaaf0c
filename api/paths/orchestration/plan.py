"""The plan the planner must return, and the checks a valid plan passes (pure).

A plan is `{tasks: [{id, agent, instruction, depends_on}]}`. Beyond its schema it must name
only known agents, have unique ids, depend only on tasks of the plan, have no cycle and at
most ORCHESTRATION_MAX_TASKS tasks; `plan_problems` says what is wrong, in words the model
can act on when it is asked again.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlannedTask(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    agent: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)


class Plan(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tasks: list[PlannedTask] = Field(min_length=1)


def plan_response_format(kind: str) -> dict[str, Any]:
    """The planner call's `response_format`: structured output, or JSON mode (REASONING_STEP_FORMAT)."""
    if kind == "json_object":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "plan", "strict": False, "schema": Plan.model_json_schema()}}


def plan_problems(plan: Plan, agents: Collection[str], max_tasks: int) -> list[str]:
    """Everything wrong with a schema-valid plan (empty: it can run)."""
    problems: list[str] = []
    if len(plan.tasks) > max_tasks:
        problems.append(f"the plan has {len(plan.tasks)} tasks and at most {max_tasks} are allowed")
    ids = [task.id for task in plan.tasks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"task ids must be unique: {', '.join(duplicates)} used more than once")
    known = ", ".join(sorted(agents)) or "none"
    for task in plan.tasks:
        if task.agent not in agents:
            problems.append(f"task {task.id} names unknown agent '{task.agent}' (available: {known})")
        missing = [d for d in task.depends_on if d not in ids]
        if missing:
            problems.append(f"task {task.id} depends on unknown task(s) {', '.join(missing)}")
    cycle = find_cycle(plan.tasks)
    if cycle:
        problems.append(f"the dependencies form a cycle: {' → '.join(cycle)}")
    return problems


def find_cycle(tasks: list[PlannedTask]) -> list[str] | None:
    """One dependency cycle as a path of ids (first id repeated at the end), or None."""
    depends = {task.id: [d for d in task.depends_on] for task in tasks}
    state: dict[str, str] = {}  # "open" while on the current path, "done" once explored

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for dep in depends.get(node, []):
            if dep not in depends:
                continue
            if state.get(dep) == "open":
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep, [*path, dep])):
                return found
        state[node] = "done"
        return None

    for task in tasks:
        if task.id not in state and (found := visit(task.id, [task.id])):
            return found
    return None


def execution_order(tasks: list[PlannedTask]) -> list[PlannedTask]:
    """The tasks in an order where each comes after its dependencies (stable: plan order
    among ready tasks). Assumes a plan without problems."""
    done: set[str] = set()
    ordered: list[PlannedTask] = []
    pending = list(tasks)
    while pending:
        ready = [task for task in pending if all(d in done for d in task.depends_on)]
        if not ready:
            raise ValueError("the plan has a cycle")
        for task in ready:
            done.add(task.id)
            ordered.append(task)
        pending = [task for task in pending if task.id not in done]
    return ordered
