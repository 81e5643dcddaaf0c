"""Reasoning events as values, and their human-readable text (contract section 4).

Each event becomes one stream chunk whose delta carries `reasoning_event` (the
structured event) and `reasoning_content` (the same event as a short paragraph ending in
a blank line, so clients that show `reasoning_content` as "thinking" render one step per
paragraph). Pure functions only: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import orjson

from api.mcp.connection import ToolOutcome
from api.paths.reasoning.schema import ReasoningStep, ToolPrediction

EventType = Literal[
    "iteration_start",
    "planning",
    "tool_execution_start",
    "tool_result",
    "iteration_complete",
    "reasoning_complete",
    "error",
]
StopReason = Literal["finished", "max_iterations", "step_error"]
RESULT_PREVIEW_CHARS = 300


@dataclass(frozen=True, slots=True)
class ReasoningEvent:
    # Where the event goes on the wire: `delta.reasoning_event`, `message.reasoning_events`.
    WIRE_KEY: ClassVar[str] = "reasoning_event"
    LIST_KEY: ClassVar[str] = "reasoning_events"

    type: EventType
    step_iteration: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    # `tool(arguments)` of each result, for the text only: the wire's `tool_results` has no
    # arguments (contract section 4), but a reader wants to see what each result answers.
    calls: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The wire form: fields that are null are left out."""
        out: dict[str, Any] = {"type": self.type}
        if self.step_iteration is not None:
            out["step_iteration"] = self.step_iteration
        out["metadata"] = self.metadata
        if self.error is not None:
            out["error"] = self.error
        return out

    def text(self) -> str:
        return reasoning_text(self)


@dataclass(frozen=True, slots=True)
class ToolCallResult:
    """One executed tool prediction: what was asked, and what came back."""

    prediction: ToolPrediction
    outcome: ToolOutcome


def iteration_start(iteration: int) -> ReasoningEvent:
    return ReasoningEvent("iteration_start", iteration, {})


def planning(iteration: int, step: ReasoningStep) -> ReasoningEvent:
    return ReasoningEvent(
        "planning",
        iteration,
        {
            "thought": step.thought,
            "next_action": step.next_action,
            "tools_planned": [t.tool_name for t in step.tools_to_use] if step.wants_tools else [],
        },
    )


def tool_execution_start(iteration: int, step: ReasoningStep) -> ReasoningEvent:
    return ReasoningEvent(
        "tool_execution_start",
        iteration,
        {
            "tool_predictions": [t.model_dump() for t in step.tools_to_use],
            "concurrent_execution": step.concurrent_execution,
        },
    )


def tool_result(iteration: int, results: list[ToolCallResult]) -> ReasoningEvent:
    return ReasoningEvent(
        "tool_result",
        iteration,
        {"tool_results": [_result_entry(r) for r in results]},
        calls=tuple(_call(r.prediction.tool_name, r.prediction.arguments) for r in results),
    )


def _result_entry(result: ToolCallResult) -> dict[str, Any]:
    """One `tool_results` entry; `truncated: true` only on a result cut to TOOL_RESULT_MAX_CHARS."""
    outcome = result.outcome
    entry = {
        "tool_name": result.prediction.tool_name,
        "success": outcome.success,
        "result": outcome.result,
        "error": outcome.error,
        "execution_time_ms": outcome.duration_ms,
    }
    if outcome.truncated:
        entry["truncated"] = True
    return entry


def iteration_complete(iteration: int, had_tools: bool) -> ReasoningEvent:
    return ReasoningEvent("iteration_complete", iteration, {"had_tools": had_tools})


def reasoning_complete(total_steps: int, stop_reason: StopReason) -> ReasoningEvent:
    return ReasoningEvent("reasoning_complete", None, {"total_steps": total_steps, "stop_reason": stop_reason})


def error(iteration: int | None, message: str, kind: str) -> ReasoningEvent:
    return ReasoningEvent("error", iteration, {}, {"message": message, "type": kind})


def reasoning_text(event: ReasoningEvent) -> str:
    """The event as a readable paragraph (ending in a blank line) for `reasoning_content`."""
    meta, n = event.metadata, event.step_iteration
    if event.type == "iteration_start":
        text = f"**Step {n}**"
    elif event.type == "planning":
        planned = meta["tools_planned"]
        action = f"Next: use {', '.join(planned)}." if planned else f"Next: {meta['next_action'].replace('_', ' ')}."
        text = f"{meta['thought']}\n{action}"
    elif event.type == "tool_execution_start":
        calls = [_call(p["tool_name"], p["arguments"]) for p in meta["tool_predictions"]]
        how = "concurrently" if meta["concurrent_execution"] and len(calls) > 1 else "in order"
        text = f"Calling {', '.join(calls)} {how}."
    elif event.type == "tool_result":
        text = "\n".join(_result_line(call, r) for call, r in zip(event.calls, meta["tool_results"], strict=True))
    elif event.type == "iteration_complete":
        text = f"Step {n} done."
    elif event.type == "reasoning_complete":
        text = f"Reasoning complete: {meta['total_steps']} step(s), {meta['stop_reason'].replace('_', ' ')}."
    else:
        text = f"Error: {event.error['message'] if event.error else 'unknown'}"
    return text + "\n\n"


def _call(tool_name: str, arguments: dict[str, Any]) -> str:
    args = ", ".join(f"{key}={orjson.dumps(value).decode()}" for key, value in arguments.items())
    return f"{tool_name}({args})"


def _result_line(call: str, result: dict[str, Any]) -> str:
    """`✓ tool(arguments) → summary (12 ms)`: one line per call, the result shortened."""
    timing = f"{result['execution_time_ms']:g} ms"
    if not result["success"]:
        return f"✗ {call} → failed: {_summary(result['error'] or 'no reason given')} ({timing})"
    return f"✓ {call} → {_summary(result['result'] or '(empty)')} ({timing})"


def _summary(text: str) -> str:
    """The text on one line, cut at RESULT_PREVIEW_CHARS: a paragraph stays one line per call."""
    flat = " ".join(text.split())
    return flat if len(flat) <= RESULT_PREVIEW_CHARS else flat[:RESULT_PREVIEW_CHARS] + "…"
