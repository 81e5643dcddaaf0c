"""The plan as a DAG: independent tasks concurrently, dependants after what they need.

Every task gets its own anyio task at once and waits for its dependencies; then it takes a
slot (at most ORCHESTRATION_MAX_PARALLEL run at a time) and runs on its agent under
ORCHESTRATION_TASK_TIMEOUT_SECONDS, seeing its dependencies' results. A task whose
dependency failed or was skipped is skipped. An agent's failure (`TaskFailed`, or a
`GatewayError` from its LLM calls) or timeout is its `task_result` with `success: false`,
never the request's; agents translate foreign exceptions into those at their boundary.

The events reach the caller in the order they happen, through a memory stream. Closing the
iterator (the client left) cancels the task group: every running agent is cancelled and
closed before `aclose` returns. Each task is a span (under the orchestration's AGENT span)
holding its agent's spans.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing

import anyio
from anyio.abc import ObjectSendStream

from api.errors import GatewayError
from api.observability.tracing import AGENT, Tracing
from api.paths.base import ChatCall
from api.paths.orchestration import events
from api.paths.orchestration.agents import Agent, DependencyResult, Finished, TaskContext, TaskFailed
from api.paths.orchestration.events import OrchestrationEvent, TaskOutcome
from api.paths.orchestration.plan import Plan, PlannedTask, execution_order


class Executor:
    def __init__(self, tracing: Tracing, *, max_parallel: int, task_timeout: float) -> None:
        self.tracing = tracing
        self.max_parallel = max_parallel
        self.task_timeout = task_timeout

    async def run(
        self, plan: Plan, agents: Mapping[str, Agent], call: ChatCall, outcomes: dict[str, TaskOutcome]
    ) -> AsyncIterator[OrchestrationEvent]:
        """The events of running `plan`; `outcomes` is filled in as tasks end."""
        # Unbounded, so a task never waits for a slow client: a plan's events are few
        # (at most MAX_TASKS tasks, each a few per reasoning step).
        send, receive = anyio.create_memory_object_stream[OrchestrationEvent](math.inf)
        run = _Run(self, plan, agents, call, outcomes, anyio.CapacityLimiter(self.max_parallel))
        done = {task.id: anyio.Event() for task in plan.tasks}
        # The group closes before the stream: tasks being cancelled can still send.
        async with receive, anyio.create_task_group() as group:
            async with send:
                for task in execution_order(plan.tasks):
                    group.start_soon(run.task, task, done, send.clone())
            try:
                async for event in receive:
                    yield event
            except GeneratorExit:
                # Closed early (the client left): cancel the tasks and wait for them here,
                # rather than let the group report the GeneratorExit as its own failure.
                group.cancel_scope.cancel()
                return


class _Run:
    """One plan's execution: the shared state of its tasks."""

    def __init__(
        self,
        executor: Executor,
        plan: Plan,
        agents: Mapping[str, Agent],
        call: ChatCall,
        outcomes: dict[str, TaskOutcome],
        slots: anyio.CapacityLimiter,
    ) -> None:
        self.executor = executor
        self.agents = agents
        self.call = call
        self.outcomes = outcomes
        self.slots = slots
        self.agent_names = {task.id: task.agent for task in plan.tasks}

    async def task(
        self, task: PlannedTask, done: dict[str, anyio.Event], send: ObjectSendStream[OrchestrationEvent]
    ) -> None:
        async with send:
            try:
                for dependency in task.depends_on:
                    await done[dependency].wait()
                failed = [d for d in task.depends_on if not self.outcomes[d].success]
                if failed:
                    self.outcomes[task.id] = TaskOutcome(False, skipped=True)
                    send.send_nowait(events.task_skipped(task, failed))
                    return
                async with self.slots:
                    self.outcomes[task.id] = await self._run(task, send)
            finally:
                done[task.id].set()

    async def _run(self, task: PlannedTask, send: ObjectSendStream[OrchestrationEvent]) -> TaskOutcome:
        executor = self.executor
        attributes = {"gateway.orchestration.task_id": task.id, "gateway.orchestration.agent": task.agent}
        with executor.tracing.span(f"task {task.id}", AGENT, attributes) as span:
            executor.tracing.set_input(span, task.instruction)
            send.send_nowait(events.task_start(task))
            started = time.perf_counter()
            result, error = await self._on_agent(task, send)
            elapsed = (time.perf_counter() - started) * 1000
            outcome = TaskOutcome(error is None, result, error, elapsed)
            span.set_attribute("gateway.orchestration.task_success", outcome.success)
            executor.tracing.set_output(span, result if error is None else error)
            send.send_nowait(events.task_result(task, outcome))
        return outcome

    async def _on_agent(
        self, task: PlannedTask, send: ObjectSendStream[OrchestrationEvent]
    ) -> tuple[str | None, str | None]:
        """(result, None) or (None, why it failed)."""
        agent = self.agents[task.agent]
        context = TaskContext(self.call, self._dependencies(task))
        timeout = self.executor.task_timeout
        result: str | None = None
        with anyio.move_on_after(timeout) as scope:
            try:
                async with aclosing(agent.run(task, context)) as updates:
                    async for update in updates:
                        if isinstance(update, Finished):
                            result = update.result
                        else:
                            send.send_nowait(events.task_update(task, update.message, update.metadata))
            except TaskFailed as exc:
                return None, str(exc)
            except GatewayError as exc:  # an LLM call of the agent failed (translated at its boundary)
                return None, exc.message
        if scope.cancelled_caught:
            return None, f"timed out after {timeout:g} s"
        if result is None:
            return None, "the agent ended without a result"
        return result, None

    def _dependencies(self, task: PlannedTask) -> tuple[DependencyResult, ...]:
        return tuple(DependencyResult(d, self.agent_names[d], self.outcomes[d].result or "") for d in task.depends_on)
