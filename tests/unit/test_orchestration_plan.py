"""The plan's checks and its order (pure): what the planner's retry shows the model."""

from __future__ import annotations

import pytest

from api.paths.orchestration.plan import Plan, PlannedTask, execution_order, find_cycle, plan_problems
from api.paths.reasoning.steps import StepInvalid, parse_reply

AGENTS = {"reasoning", "research"}


def plan(*tasks: tuple[str, str, list[str]]) -> Plan:
    return Plan(tasks=[PlannedTask(id=i, agent=a, instruction=f"do {i}", depends_on=d) for i, a, d in tasks])


def test_a_valid_plan_has_no_problems():
    assert plan_problems(plan(("t1", "reasoning", []), ("t2", "research", ["t1"])), AGENTS, 8) == []


@pytest.mark.parametrize(
    ("tasks", "problem"),
    [
        ([("t1", "wizard", [])], "task t1 names unknown agent 'wizard' (available: reasoning, research)"),
        ([("t1", "reasoning", []), ("t1", "reasoning", [])], "task ids must be unique: t1 used more than once"),
        ([("t1", "reasoning", ["t9"])], "task t1 depends on unknown task(s) t9"),
        ([("t1", "reasoning", ["t1"])], "the dependencies form a cycle: t1 → t1"),
        ([("a", "reasoning", ["b"]), ("b", "reasoning", ["a"])], "the dependencies form a cycle: a → b → a"),
        ([(f"t{i}", "reasoning", []) for i in range(3)], None),
    ],
)
def test_each_problem_is_named_for_the_model(tasks, problem):
    problems = plan_problems(plan(*tasks), AGENTS, 8)
    assert problems == ([problem] if problem else [])


def test_too_many_tasks():
    too_many = plan(*[(f"t{i}", "reasoning", []) for i in range(5)])
    assert plan_problems(too_many, AGENTS, 4) == ["the plan has 5 tasks and at most 4 are allowed"]


def test_a_longer_cycle_is_shown_as_a_path():
    tasks = plan(
        ("t1", "reasoning", []), ("a", "reasoning", ["c"]), ("b", "reasoning", ["a"]), ("c", "reasoning", ["b"])
    )
    assert find_cycle(tasks.tasks) == ["a", "c", "b", "a"]


def test_order_puts_dependencies_first_and_keeps_the_plan_order_otherwise():
    tasks = plan(
        ("t3", "reasoning", ["t1", "t2"]), ("t1", "reasoning", []), ("t4", "reasoning", []), ("t2", "reasoning", ["t1"])
    )
    assert [t.id for t in execution_order(tasks.tasks)] == ["t1", "t4", "t2", "t3"]


def test_the_reply_must_match_the_schema():
    assert parse_reply(
        '```json\n{"tasks": [{"id": "t1", "agent": "reasoning", "instruction": "x"}]}\n```', Plan, "plan"
    )
    with pytest.raises(StepInvalid, match="does not match the plan schema"):
        parse_reply('{"tasks": []}', Plan, "plan")
    with pytest.raises(StepInvalid, match="not JSON"):
        parse_reply("Here is my plan: do it.", Plan, "plan")
