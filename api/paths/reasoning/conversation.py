"""The messages each LLM call of the agent sends (pure): steps, retries, the final answer.

Every call sees the whole conversation as the client sent it (roles, the client's own
system prompt, content parts), after the agent's instructions; step calls also see the
steps taken so far and the tool results they produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from api.mcp.manager import ToolSpec
from api.paths.reasoning.events import ToolCallResult
from api.paths.reasoning.schema import ReasoningStep
from api.prompts import render

# Sampling fields of the client's request that every agent call honours; the answer call
# also honours the length and stop controls (a step cut short would not be valid JSON).
STEP_SAMPLING = ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty", "user")
ANSWER_SAMPLING = (*STEP_SAMPLING, "max_tokens", "max_completion_tokens", "stop", "logit_bias")

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CompletedStep:
    iteration: int
    step: ReasoningStep
    results: list[ToolCallResult]


def sampling(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The client's sampling fields among `names` (a `temperature` of 0 stays 0)."""
    return {name: body[name] for name in names if body.get(name) is not None}


def tool_catalogue(tools: list[ToolSpec]) -> str:
    if not tools:
        return "(no tools are available right now: reason without them)"
    return "\n".join(
        f"- {tool.name}: {tool.description.strip() or 'no description'}\n"
        f"  input schema: {orjson.dumps(tool.input_schema).decode()}"
        for tool in tools
    )


def step_messages(
    conversation: list[Message], tools: list[ToolSpec], history: list[CompletedStep], max_iterations: int
) -> list[Message]:
    instructions = render(
        "reasoning_step",
        tools=tool_catalogue(tools),
        schema=orjson.dumps(ReasoningStep.model_json_schema()).decode(),
        max_iterations=max_iterations,
    )
    messages: list[Message] = [{"role": "system", "content": instructions}, *conversation]
    for done in history:
        messages.append({"role": "assistant", "content": done.step.model_dump_json()})
        if done.results:
            results = "\n".join(_result_for_model(r) for r in done.results)
            messages.append(
                {"role": "user", "content": render("reasoning_tool_results", iteration=done.iteration, results=results)}
            )
    return messages


def retry_messages(
    messages: list[Message], invalid_reply: str, problem: str, prompt: str = "reasoning_retry"
) -> list[Message]:
    """The same call asked again (a step, a plan), showing the model its invalid reply and what was wrong."""
    return [
        *messages,
        {"role": "assistant", "content": invalid_reply},
        {"role": "user", "content": render(prompt, error=problem)},
    ]


def synthesis_messages(conversation: list[Message], history: list[CompletedStep]) -> list[Message]:
    notes = "\n".join(_step_note(done) for done in history) or "(no steps completed)"
    return [{"role": "system", "content": render("reasoning_synthesis", notes=notes)}, *conversation]


def _step_note(done: CompletedStep) -> str:
    lines = [f"Step {done.iteration}: {done.step.thought}"]
    lines.extend(f"  {_result_for_model(result)}" for result in done.results)
    return "\n".join(lines)


def _result_for_model(result: ToolCallResult) -> str:
    call = f"{result.prediction.tool_name}({orjson.dumps(result.prediction.arguments).decode()})"
    if not result.outcome.success:
        return f"- {call} failed: {result.outcome.error}"
    # Already cut to TOOL_RESULT_MAX_CHARS where it entered the agent (bounds.py).
    return f"- {call} → {result.outcome.result or ''}"
