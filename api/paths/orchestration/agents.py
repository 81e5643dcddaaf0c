"""What the orchestrator asks of an agent: a name, a description for the planner, and `run`.

`run(task, context)` is an async iterator of `Progress` updates ending with one `Finished`
result; an agent that cannot do the task raises `TaskFailed` (or a `GatewayError`, as the
LLM client translates its failures); it translates any other failure into one of those.
Cancellation is the iterator being closed (the executor cancels the task's scope, then
`aclose`s it): an agent releases what it holds in `finally`, e.g. a remote A2A agent sends
`tasks/cancel` there. The built-in `reasoning` agent is in builtin.py; remote A2A agents
implement the same protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from api.paths.base import ChatCall
from api.paths.orchestration.plan import PlannedTask


@dataclass(frozen=True, slots=True)
class DependencyResult:
    """The result of a task this one depends on, as the agent gets to see it."""

    task_id: str
    agent: str
    result: str


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a task runs with: the request it serves (model, sampling, the record every LLM
    call adds its usage and cost to) and the results of its dependencies."""

    call: ChatCall
    dependencies: tuple[DependencyResult, ...] = ()


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of the agent's work, shown to the user as a `task_update`."""

    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finished:
    result: str


class TaskFailed(Exception):
    """The agent could not do its task; the message says why (shown in `task_result.error`)."""


class Agent(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def run(self, task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]: ...
