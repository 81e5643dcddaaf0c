"""Orchestration events as values, and their human-readable text (contract section 12).

Like the reasoning events (api/paths/reasoning/events.py): each becomes one chunk whose
delta has `orchestration_event` (`{type, task_id, agent, metadata, error}`, nulls left out)
and `reasoning_content` (the same event as a paragraph ending in a blank line), and a whole
answer lists them in `message.orchestration_events`. Pure functions only: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from api.paths.orchestration.plan import Plan, PlannedTask

EventType = Literal[
    "plan", "task_start", "task_update", "task_result", "task_skipped", "orchestration_complete", "error"
]
StopReason = Literal["finished", "step_error"]
PREVIEW_CHARS = 300


@dataclass(frozen=True, slots=True)
class OrchestrationEvent:
    WIRE_KEY: ClassVar[str] = "orchestration_event"
    LIST_KEY: ClassVar[str] = "orchestration_events"

    type: EventType
    task_id: str | None = None
    agent: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The wire form: fields that are null are left out."""
        out: dict[str, Any] = {"type": self.type}
        if self.task_id is not None:
            out["task_id"] = self.task_id
        if self.agent is not None:
            out["agent"] = self.agent
        out["metadata"] = self.metadata
        if self.error is not None:
            out["error"] = self.error
        return out

    def text(self) -> str:
        return orchestration_text(self)


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """How one task ended: a result, or why not (`skipped`: it never ran)."""

    success: bool
    result: str | None = None
    error: str | None = None
    execution_time_ms: float = 0.0
    skipped: bool = False


def plan(planned: Plan) -> OrchestrationEvent:
    return OrchestrationEvent("plan", metadata={"tasks": [task.model_dump() for task in planned.tasks]})


def task_start(task: PlannedTask) -> OrchestrationEvent:
    return OrchestrationEvent(
        "task_start", task.id, task.agent, {"instruction": task.instruction, "depends_on": list(task.depends_on)}
    )


def task_update(task: PlannedTask, message: str, metadata: dict[str, Any]) -> OrchestrationEvent:
    return OrchestrationEvent("task_update", task.id, task.agent, {"message": message, **metadata})


def task_result(task: PlannedTask, outcome: TaskOutcome) -> OrchestrationEvent:
    return OrchestrationEvent(
        "task_result",
        task.id,
        task.agent,
        {
            "success": outcome.success,
            "result": outcome.result,
            "error": outcome.error,
            "execution_time_ms": round(outcome.execution_time_ms, 1),
        },
    )


def task_skipped(task: PlannedTask, failed_dependencies: list[str]) -> OrchestrationEvent:
    reason = f"depends on {', '.join(failed_dependencies)}, which did not succeed"
    return OrchestrationEvent(
        "task_skipped", task.id, task.agent, {"reason": reason, "failed_dependencies": failed_dependencies}
    )


def orchestration_complete(total: int, failed: int, skipped: int, stop_reason: StopReason) -> OrchestrationEvent:
    return OrchestrationEvent(
        "orchestration_complete",
        metadata={"total_tasks": total, "failed_tasks": failed, "skipped_tasks": skipped, "stop_reason": stop_reason},
    )


def error(message: str, kind: str, task_id: str | None = None) -> OrchestrationEvent:
    return OrchestrationEvent("error", task_id, None, {}, {"message": message, "type": kind})


def orchestration_text(event: OrchestrationEvent) -> str:
    """The event as a readable paragraph (ending in a blank line) for `reasoning_content`."""
    meta, task = event.metadata, event.task_id
    if event.type == "plan":
        lines = [f"**Plan**: {len(meta['tasks'])} task(s)"]
        for t in meta["tasks"]:
            after = f", after {', '.join(t['depends_on'])}" if t["depends_on"] else ""
            lines.append(f"- {t['id']} ({t['agent']}{after}): {_summary(t['instruction'])}")
        text = "\n".join(lines)
    elif event.type == "task_start":
        text = f"**Task {task}** ({event.agent}) started: {_summary(meta['instruction'])}"
    elif event.type == "task_update":
        text = f"{task}: {meta['message']}"
    elif event.type == "task_result":
        timing = f"{meta['execution_time_ms']:g} ms"
        if meta["success"]:
            text = f"✓ Task {task} done ({timing}): {_summary(meta['result'] or '(empty)')}"
        else:
            text = f"✗ Task {task} failed ({timing}): {_summary(meta['error'] or 'no reason given')}"
    elif event.type == "task_skipped":
        text = f"Task {task} skipped: {meta['reason']}."
    elif event.type == "orchestration_complete":
        text = (
            f"Orchestration complete: {meta['total_tasks']} task(s), {meta['failed_tasks']} failed, "
            f"{meta['skipped_tasks']} skipped, {meta['stop_reason'].replace('_', ' ')}."
        )
    else:
        text = f"Error: {event.error['message'] if event.error else 'unknown'}"
    return text + "\n\n"


def _summary(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS] + "…"
