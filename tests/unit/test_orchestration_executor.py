"""The executor runs a plan as a DAG: order, results passed on, skips, failures, the
concurrency cap, timeouts, cancellation and the span tree, with agents plugged into the
`Agent` protocol (scripted in-process, as remote A2A agents will be plugged in)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import anyio.lowlevel
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.config import Settings
from api.errors import UpstreamError
from api.observability.tracing import AGENT, Tracing
from api.paths.orchestration.agents import Finished, Progress, TaskContext, TaskFailed
from api.paths.orchestration.events import OrchestrationEvent, TaskOutcome
from api.paths.orchestration.executor import Executor
from api.paths.orchestration.plan import Plan, PlannedTask

Behaviour = Callable[[PlannedTask, TaskContext], AsyncIterator[Progress | Finished]]


class ScriptedAgent:
    """An agent whose behaviour per task is a coroutine generator given by the test."""

    description = "scripted"

    def __init__(self, name: str, behaviours: dict[str, Behaviour]) -> None:
        self.name = name
        self.behaviours = behaviours
        self.running = 0
        self.most_running = 0
        self.closed: list[str] = []

    async def run(self, task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            async for update in self.behaviours[task.id](task, context):
                yield update
        finally:
            self.running -= 1
            self.closed.append(task.id)


async def answers(task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
    seen = ", ".join(f"{d.task_id}={d.result}" for d in context.dependencies)
    yield Progress(f"working on {task.id}")
    await anyio.lowlevel.checkpoint()  # a checkpoint: other tasks get to run
    yield Finished(f"{task.id} done" + (f" after {seen}" if seen else ""))


async def fails(task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
    yield Progress("trying")
    raise TaskFailed("no luck")


async def upstream_down(task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
    raise UpstreamError("The upstream LLM is unreachable.")
    yield  # pragma: no cover


async def hangs(task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
    yield Progress("waiting forever")
    await anyio.sleep_forever()


def plan(*tasks: tuple[str, list[str]]) -> Plan:
    return Plan(tasks=[PlannedTask(id=i, agent="scripted", instruction=f"do {i}", depends_on=d) for i, d in tasks])


def settings() -> Settings:
    return Settings(
        _env_file=None,
        llm_api_key="sk-x",
        require_auth=False,
        phoenix_collector_endpoint=None,
        otel_exporter_otlp_endpoint=None,
    )


async def run(
    the_plan: Plan,
    agent: ScriptedAgent,
    *,
    max_parallel: int = 4,
    task_timeout: float = 30,
    tracing: Tracing | None = None,
) -> tuple[list[OrchestrationEvent], dict[str, TaskOutcome]]:
    executor = Executor(tracing or Tracing(settings()), max_parallel=max_parallel, task_timeout=task_timeout)
    outcomes: dict[str, TaskOutcome] = {}
    events = [e async for e in executor.run(the_plan, {"scripted": agent}, None, outcomes)]  # type: ignore[arg-type]
    return events, outcomes


def kinds(events: list[OrchestrationEvent]) -> list[tuple[str, str | None]]:
    return [(e.type, e.task_id) for e in events]


async def test_a_dependant_runs_after_its_dependency_and_sees_its_result():
    agent = ScriptedAgent("scripted", {"t1": answers, "t2": answers})
    events, outcomes = await run(plan(("t2", ["t1"]), ("t1", [])), agent)
    assert kinds(events) == [
        ("task_start", "t1"),
        ("task_update", "t1"),
        ("task_result", "t1"),
        ("task_start", "t2"),
        ("task_update", "t2"),
        ("task_result", "t2"),
    ]
    assert outcomes["t2"].result == "t2 done after t1=t1 done"
    assert events[1].metadata == {"message": "working on t1"}
    assert events[2].metadata["success"] is True


async def test_independent_tasks_run_at_the_same_time():
    both_started = anyio.Event()
    started: list[str] = []

    async def meets_the_other(task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
        started.append(task.id)
        if len(started) == 2:
            both_started.set()
        with anyio.fail_after(5):  # only a safety net: a sequential run would never get here
            await both_started.wait()
        yield Finished(task.id)

    agent = ScriptedAgent("scripted", {"a": meets_the_other, "b": meets_the_other})
    events, outcomes = await run(plan(("a", []), ("b", [])), agent)
    assert kinds(events)[:2] == [("task_start", "a"), ("task_start", "b")]
    assert all(o.success for o in outcomes.values())
    assert agent.most_running == 2


async def test_at_most_max_parallel_tasks_run():
    agent = ScriptedAgent("scripted", {f"t{i}": answers for i in range(5)})
    _, outcomes = await run(plan(*[(f"t{i}", []) for i in range(5)]), agent, max_parallel=2)
    assert len(outcomes) == 5
    assert agent.most_running == 2


async def test_a_failed_task_is_reported_and_its_dependants_skipped_transitively():
    agent = ScriptedAgent("scripted", {"ok": answers, "bad": fails, "down": upstream_down, "after": answers})
    the_plan = plan(("ok", []), ("bad", []), ("down", []), ("after", ["ok", "bad"]), ("last", ["after"]))
    events, outcomes = await run(the_plan, agent)
    results = {e.task_id: e.metadata for e in events if e.type == "task_result"}
    assert (results["bad"]["success"], results["bad"]["error"]) == (False, "no luck")
    assert results["down"]["error"] == "The upstream LLM is unreachable."
    skipped = {e.task_id: e.metadata for e in events if e.type == "task_skipped"}
    assert skipped == {
        "after": {"reason": "depends on bad, which did not succeed", "failed_dependencies": ["bad"]},
        "last": {"reason": "depends on after, which did not succeed", "failed_dependencies": ["after"]},
    }
    assert (outcomes["after"].skipped, outcomes["ok"].success) == (True, True)


async def test_a_task_over_its_time_limit_fails_and_its_agent_is_closed():
    agent = ScriptedAgent("scripted", {"slow": hangs, "quick": answers})
    _, outcomes = await run(plan(("slow", []), ("quick", [])), agent, task_timeout=0.2)
    assert (outcomes["slow"].success, outcomes["slow"].error) == (False, "timed out after 0.2 s")
    assert outcomes["quick"].success
    assert sorted(agent.closed) == ["quick", "slow"]


async def test_closing_the_events_cancels_every_running_task():
    agent = ScriptedAgent("scripted", {"a": hangs, "b": hangs, "c": answers})
    executor = Executor(Tracing(settings()), max_parallel=4, task_timeout=30)
    events = executor.run(plan(("a", []), ("b", []), ("c", ["a"])), {"scripted": agent}, None, {})  # type: ignore[arg-type]
    updates = 0
    async for event in events:
        updates += event.type == "task_update"
        if updates == 2:
            break
    await events.aclose()  # type: ignore[attr-defined]
    assert sorted(agent.closed) == ["a", "b"]
    assert agent.running == 0


async def test_each_task_is_a_span_under_the_current_one_holding_its_agents_spans():
    exporter = InMemorySpanExporter()
    tracing = Tracing(settings(), exporter)
    tracing.start()

    async def traced(task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
        with tracing.span(f"inner {task.id}"):
            await anyio.lowlevel.checkpoint()
        yield Finished("ok")

    agent = ScriptedAgent("scripted", {"t1": traced, "t2": traced})
    with tracing.span("orchestration", AGENT):
        await run(plan(("t1", []), ("t2", ["t1"])), agent, tracing=tracing)
    tracing.force_flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = spans["orchestration"]
    for task in ("t1", "t2"):
        assert spans[f"task {task}"].parent.span_id == root.context.span_id
        assert spans[f"inner {task}"].parent.span_id == spans[f"task {task}"].context.span_id
        assert spans[f"task {task}"].attributes["gateway.orchestration.agent"] == "scripted"
    await tracing.shutdown()
